import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import Broker
import VRAMPolicy

/// The direct path's reader of backend answers: what it makes of well-formed answers however
/// their bytes are split across reads, what it refuses, and, against NIO's own decoder (llhttp),
/// that whatever it accepts llhttp reads the same way.
@Suite(.timeLimit(.minutes(1)))
struct UpstreamResponseParserTests {
    typealias Answer = AnswerParserOracle.Answer
    typealias Outcome = AnswerParserOracle.Outcome

    static func parse(_ bytes: [UInt8], cuts: [Int] = [], closed: Bool = true) -> Outcome {
        AnswerParserOracle.parse(bytes, cuts: cuts, closed: closed)
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func answer(_ text: String, cuts: [Int] = [], closed: Bool = true) -> Answer? {
        if case .answer(let answer) = parse(bytes(text), cuts: cuts, closed: closed) { return answer }
        return nil
    }

    static func failure(_ text: String) -> String? {
        if case .failed(let why) = parse(bytes(text)) { return why }
        return nil
    }

    // MARK: Well-formed answers

    @Test func aLengthFramedAnswerReadsTheSameHoweverItIsSplit() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Spaced:   padded value \t\r\nContent-Length: 11\r\n\r\n{\"ok\": true}"
            .replacingOccurrences(of: "{\"ok\": true}", with: "{\"ok\":true}")
        let whole = try #require(Self.answer(text, closed: false))
        #expect(whole.status == 200 && whole.body == Self.bytes("{\"ok\":true}") && whole.keepAlive && whole.framing == .length(11))
        #expect(whole.fields == ["Content-Type=application/json", "X-Spaced=padded value", "Content-Length=11"])
        for cut in 1..<text.utf8.count {
            #expect(Self.parse(Self.bytes(text), cuts: [cut], closed: false) == .answer(whole), "cut at \(cut)")
        }
        // Every byte on its own.
        #expect(Self.parse(Self.bytes(text), cuts: Array(1..<text.utf8.count), closed: false) == .answer(whole))
    }

    @Test func aChunkedAnswerWithExtensionsAndTrailersReadsTheSameHoweverItIsSplit() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n7\r\n, world\r\n000\r\nX-Trailer: yes\r\n\r\n"
        let whole = try #require(Self.answer(text, closed: false))
        #expect(whole.body == Self.bytes("hello, world") && whole.framing == .chunked && whole.keepAlive && whole.isEventStream, "\(whole)")
        for cut in 1..<text.utf8.count {
            for second in [cut + 1, cut + 3, cut + 11] {
                #expect(Self.parse(Self.bytes(text), cuts: [cut, second], closed: false) == .answer(whole), "cuts at \(cut), \(second)")
            }
        }
        let bare = try #require(Self.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", closed: false))
        #expect(bare.body.isEmpty)
    }

    @Test func anAnswerWithoutALengthEndsWithTheConnection() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
        #expect(Self.parse(Self.bytes(text), closed: false) == .incomplete)
        let closed = try #require(Self.answer(text))
        #expect(closed.body == Self.bytes("until the end") && closed.framing == .untilClose && !closed.keepAlive)
        // Any coding but chunked last is read the same way.
        let gzip = try #require(Self.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz"))
        #expect(gzip.framing == .untilClose && gzip.body == Self.bytes("zz") && !gzip.keepAlive)
    }

    @Test func interimAnswersAreSkipped() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        let answer = try #require(Self.answer(text, closed: false))
        #expect(answer.status == 201 && answer.fields == ["Content-Length=2"] && answer.body == Self.bytes("ok"))
        #expect(Self.failure("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")?.contains("switched") == true)
    }

    @Test func whetherTheConnectionIsKept() {
        func keepAlive(_ head: String) -> Bool? { Self.answer(head + "Content-Length: 0\r\n\r\n", closed: false)?.keepAlive }
        #expect(keepAlive("HTTP/1.1 200 OK\r\n") == true)
        #expect(keepAlive("HTTP/1.1 200 OK\r\nConnection: Close\r\n") == false)
        #expect(keepAlive("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n") == false)
        #expect(keepAlive("HTTP/1.0 200 OK\r\n") == false)
        #expect(keepAlive("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n") == true)
    }

    @Test func answersWithoutABodyEndAtTheirHead() throws {
        for status in [204, 304] {
            let answer = try #require(Self.answer("HTTP/1.1 \(status) X\r\nContent-Length: 10\r\n\r\n", closed: false))
            #expect(answer.framing == .none && answer.body.isEmpty)
        }
        // Whatever follows an answer is the backend's error.
        #expect(Self.failure("HTTP/1.1 204 No Content\r\n\r\nstray")?.contains("after") == true)
    }

    // MARK: What is refused

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", "two Content-Lengths"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok", "two Content-Lengths"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nok", "not a length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\t\r\n\r\nok", "not a length"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", "empty element"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", "tab"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok", "not a length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "not a length"),
        ("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "not a length"),
        ("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n", "malformed field"),
        ("HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n", "malformed field"),
        ("HTTP/1.1 200 OK\r\n: 1\r\nContent-Length: 0\r\n\r\n", "malformed field"),
        ("HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 0\r\n\r\n", "control character"),
        ("HTTP/1.1 200 OK\r\nX-A: a\u{0}b\r\nContent-Length: 0\r\n\r\n", "control character"),
        ("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", "control character"),
        ("HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", "status line"),
        ("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", "status line"),
        ("HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", "status line"),
        ("HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n", "status line"),
        ("http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "status line"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n", "not the last"),
        // Refused as llhttp refuses it (RFC 9112: both at once ought to be an error).
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", "both"),
        ("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", "both"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;q=\"x\"\r\nhello\r\n0\r\n\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", "malformed"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", "CRLF"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", "malformed field"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\ncontent-length: x\r\n\r\n", "framing field"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", "framing field"),
        ("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\n{}", "interim answer ends"),
        ("HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "interim answer ends"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", "closed before"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "closed before"),
        ("HTTP/1.1 200 OK\r\nContent-Le", "closed before"),
        ("", "closed before"),
    ])
    func malformedAnswersAreRefused(text: String, why: String) {
        let outcome = Self.parse(Self.bytes(text))
        guard case .failed(let reason) = outcome else {
            Issue.record("accepted: \(text.debugDescription) as \(outcome)")
            return
        }
        #expect(reason.contains(why), "\(text.debugDescription): \(reason)")
    }

    @Test func headsPastTheLimitsAreRefused() {
        let long = "HTTP/1.1 200 OK\r\nX-Long: " + String(repeating: "a", count: UpstreamResponseParser.maxHead) + "\r\n\r\n"
        #expect(Self.failure(long)?.contains("longer than") == true)
        // Refused as soon as the limit is passed, not when the head ends.
        #expect({ if case .failed = Self.parse(Self.bytes(String(long.dropLast(4))), closed: false) { true } else { false } }())
        let many = "HTTP/1.1 200 OK\r\n" + (0...UpstreamResponseParser.maxFields).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        #expect(Self.failure(many)?.contains("more than") == true)
    }

    // MARK: Against llhttp

    /// A random well-formed answer: any status, fields, and a body framed by length or chunks.
    static func randomAnswer(_ random: inout some RandomNumberGenerator) -> [UInt8] {
        let status = [200, 201, 204, 400, 404, 500, 503].randomElement(using: &random)!
        var text = "HTTP/1.\(Int.random(in: 0...1, using: &random)) \(status) Reason\r\n"
        for index in 0..<Int.random(in: 0...4, using: &random) { text += "X-Field-\(index): value \(index)\r\n" }
        let body = String((0..<Int.random(in: 0...40, using: &random)).map { _ in "abcdef:\r\n{}0123".randomElement(using: &random)! })
        if status == 204 {
            text += "\r\n"
        } else if Bool.random(using: &random) {
            text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        } else {
            text += "Transfer-Encoding: chunked\r\n\r\n"
            var rest = Substring(body)
            while !rest.isEmpty {
                let piece = rest.prefix(Int.random(in: 1...16, using: &random))
                rest = rest.dropFirst(piece.count)
                text += String(piece.utf8.count, radix: 16) + (Bool.random(using: &random) ? ";ext=1" : "") + "\r\n" + piece + "\r\n"
            }
            text += "0\r\n" + (Bool.random(using: &random) ? "X-Trailer: t\r\n" : "") + "\r\n"
        }
        return Array(text.utf8)
    }

    /// Seeded answers, mutated byte by byte, each judged by ``AnswerParserOracle/mismatch(_:cuts:)``
    /// and cut at a random place: wherever this parser reads an answer, llhttp must read the
    /// same status, fields and body, and the parser must read it the same way in two reads.
    @Test func whatItAcceptsLlhttpReadsTheSame() {
        let seed = UInt64(ProcessInfo.processInfo.environment["VRAMD_UPSTREAM_PARSER_SEED"] ?? "") ?? 7
        let cases = Int(ProcessInfo.processInfo.environment["VRAMD_UPSTREAM_PARSER_CASES"] ?? "") ?? 4000
        var random = SplitMix64(seed: seed)
        var accepted = 0, mismatches: [String] = []
        for index in 0..<cases {
            var bytes = Self.randomAnswer(&random)
            if index % 4 != 0 { ByteMutation.mutate(&bytes, alphabet: "\r\n :;,0aAZ\t\u{0}-", using: &random) }
            if case .answer = Self.parse(bytes) { accepted += 1 }
            let cut = Int(random.next() % UInt64(bytes.count + 1))
            if let mismatch = AnswerParserOracle.mismatch(bytes, cuts: [cut]) { mismatches.append(mismatch) }
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(5))")
        #expect(accepted > cases / 4, "too few answers accepted to mean anything: \(accepted)")
    }

    /// The short version of `scripts/fuzz answer`: every input in its committed corpus.
    @Test func theFuzzCorpusIsReadAsLlhttpReadsIt() throws {
        let replay = try FuzzCorpus.replay("answer", mismatch: AnswerParserOracle.mismatch(fuzzInput:)) {
            if case .answer = Self.parse($0) { true } else { false }
        }
        #expect(replay.mismatches.isEmpty, "\(replay.mismatches.prefix(5))")
        #expect(replay.count >= 8 && replay.read >= 8, "the corpus should hold answers the parser reads, not only ones it refuses")
    }
}
