import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import Broker
import VRAMPolicy

/// The direct path's reader of client requests: what it reads of plain requests however their
/// bytes are split, what it leaves to llhttp, and, against NIO's own decoder (llhttp), that
/// whatever it reads llhttp reads the same way and ends at the same byte.
@Suite(.timeLimit(.minutes(1)))
struct ClientRequestReaderTests {
    typealias Request = RequestReaderOracle.Request
    typealias Outcome = RequestReaderOracle.Outcome

    static func read(_ bytes: [UInt8], cuts: [Int] = []) -> Outcome { RequestReaderOracle.read(bytes, cuts: cuts) }

    static func read(_ text: String, cuts: [Int] = []) -> Outcome { read(Array(text.utf8), cuts: cuts) }

    static func request(_ text: String) -> Request? {
        if case .request(let request, _) = read(text) { return request }
        return nil
    }

    static func isForeign(_ text: String) -> Bool { read(text) == .foreign }

    // MARK: Plain requests

    @Test func aPlainRequestReadsTheSameHoweverItIsSplit() throws {
        let text = "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: vramd:8080\r\nContent-Type:  application/json\t\r\n"
            + "Authorization: Bearer t\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\nGET / HTTP/1.1\r\n"
        let whole = try #require(Self.request(text))
        #expect(whole == Request(method: "POST", uri: "/v1/chat/completions?x=1", old: false,
                                 fields: ["Host=vramd:8080", "Content-Type=application/json", "Authorization=Bearer t", "Content-Length=9"],
                                 keepAlive: true, body: Array("{\"a\": 1}\n".utf8)))
        // The request is read once its body is all there, whatever came before.
        for cut in 1..<text.utf8.count {
            guard case .request(let request, _) = Self.read(text, cuts: [cut]) else {
                Issue.record("cut at \(cut): \(Self.read(text, cuts: [cut]))")
                continue
            }
            #expect(request == whole, "cut at \(cut)")
        }
        let byByte = Self.read(text, cuts: Array(1..<text.utf8.count))
        #expect(byByte == .request(whole, rest: Array("GET / HTTP/1.1\r\n".utf8)), "a byte at a time")
        guard case .request(_, let rest) = Self.read(text) else { return }
        #expect(String(decoding: rest, as: UTF8.self) == "GET / HTTP/1.1\r\n", "the next request starts after the body")
        // Not all there yet.
        #expect(Self.read(String(text.prefix(40))) == .incomplete)
        #expect(Self.read("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab") == .incomplete)
    }

    @Test func whetherTheConnectionIsKept() {
        func keepAlive(_ version: String, _ connection: String?) -> Bool? {
            Self.request("GET / HTTP/\(version)\r\n" + (connection.map { "Connection: \($0)\r\n" } ?? "") + "\r\n")?.keepAlive
        }
        #expect(keepAlive("1.1", nil) == true)
        #expect(keepAlive("1.1", "close") == false)
        #expect(keepAlive("1.1", "Keep-Alive, CLOSE") == nil, "both asked: llhttp's to read")
        #expect(keepAlive("1.0", nil) == false)
        #expect(keepAlive("1.0", "keep-alive") == true)
        #expect(keepAlive("1.0", "x, Keep-Alive ") == true)
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "a chunked body"),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc", "Expect"),
        ("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "Upgrade"),
        ("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", "Connection: upgrade"),
        ("GET / HTTP/1.1\r\nConnection: close\t\r\n\r\n", "a tab in Connection, which NIO does not trim"),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "two lengths"),
        ("POST / HTTP/1.1\r\nContent-Length: 3\t\r\n\r\nabc", "a tab in a length"),
        ("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", "a sign in a length"),
        ("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", "a length of 19 digits"),
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", "a bare LF"),
        ("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "a bare CR"),
        ("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", "a folded line"),
        ("GET / HTTP/1.1\r\nX-A : a\r\n\r\n", "a space before the colon"),
        ("GET / HTTP/1.1\r\nX-A: caf\u{E9}\r\n\r\n", "a byte past ASCII"),
        ("GET / HTTP/1.1\r\nX-A: a\u{0}\r\n\r\n", "NUL"),
        ("get / HTTP/1.1\r\n\r\n", "a lowercase method"),
        ("BREW / HTTP/1.1\r\n\r\n", "an unknown method"),
        ("CONNECT vramd:80 HTTP/1.1\r\n\r\n", "CONNECT"),
        ("GET http://vramd/ HTTP/1.1\r\n\r\n", "an absolute target"),
        ("GET /a b HTTP/1.1\r\n\r\n", "a space in the target"),
        ("GET /a#b HTTP/1.1\r\n\r\n", "a fragment"),
        ("GET  / HTTP/1.1\r\n\r\n", "two spaces"),
        ("GET / HTTP/2.0\r\n\r\n", "HTTP/2"),
        ("GET / http/1.1\r\n\r\n", "a lowercase version"),
        ("\r\nGET / HTTP/1.1\r\n\r\n", "an empty line first"),
        ("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", "a body past the limit"),
    ])
    func whatItLeavesToLlhttp(text: String, why: String) {
        #expect(Self.isForeign(text), "\(why)")
    }

    @Test func headsPastTheLimitsAreLeftToLlhttp() {
        let long = "GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: ClientRequestReader.maxHead) + "\r\n\r\n"
        #expect(Self.isForeign(long))
        // As soon as the limit is passed, without waiting for the head's end.
        #expect(Self.isForeign(String(long.dropLast(4))))
        let many = "GET / HTTP/1.1\r\n" + (0...ClientRequestReader.maxFields).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        #expect(Self.isForeign(many))
    }

    @Test func tokenBytesAreRFC9110s() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for byte in 0...255 {
            #expect(isTokenByte(UInt8(byte)) == tchar.contains(UInt8(byte)), "\(byte)")
        }
    }

    // MARK: Against llhttp

    /// A random plain request, and after it the start of another.
    static func randomRequest(_ random: inout SplitMix64) -> [UInt8] {
        let method = ["GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"].randomElement(using: &random)!
        let target = ["/", "/v1/chat/completions", "/v1/llm?x=1&y=%20", "/a/b;c=d@e:f", "/x?q=(1)*2,3!~"].randomElement(using: &random)!
        var text = "\(method) \(target) HTTP/1.\(Int.random(in: 0...1, using: &random))\r\n"
        let space = { (random: inout SplitMix64) in ["", " ", "  ", "\t"].randomElement(using: &random)! }
        for index in 0..<Int.random(in: 0...4, using: &random) {
            text += "X-Field-\(index):\(space(&random))value, \(index)\(space(&random))\r\n"
        }
        if Int.random(in: 0...3, using: &random) == 0 {
            text += ["Connection", "connection", "CONNECTION"].randomElement(using: &random)! + ":" + space(&random)
                + ["close", "keep-alive", "Keep-Alive, x", "Close", "x,close,y"].randomElement(using: &random)! + space(&random) + "\r\n"
        }
        let body = String((0..<Int.random(in: 0...40, using: &random)).map { _ in "abcdef:\r\n{}0123".randomElement(using: &random)! })
        if !body.isEmpty || Bool.random(using: &random) {
            text += ["Content-Length", "content-length", "CONTENT-length"].randomElement(using: &random)! + ":" + space(&random)
                + "\(body.utf8.count)" + space(&random) + "\r\n"
        }
        text += "\r\n" + body + "GET /next HTTP/1.1\r\nHost: n\r\n\r\n"
        return Array(text.utf8)
    }

    /// The short version of `scripts/fuzz request`: every input in its committed corpus.
    @Test func theFuzzCorpusIsReadAsLlhttpReadsIt() throws {
        let replay = try FuzzCorpus.replay("request", mismatch: RequestReaderOracle.mismatch(fuzzInput:)) {
            if case .request = Self.read($0) { true } else { false }
        }
        #expect(replay.mismatches.isEmpty, "\(replay.mismatches.prefix(5))")
        #expect(replay.count >= 12 && replay.read >= 12, "the corpus should hold requests the reader takes, not only ones it leaves to llhttp")
    }

    /// Seeded requests, mutated byte by byte, each judged by ``RequestReaderOracle/mismatch(_:cuts:)``.
    @Test func whatItTakesLlhttpReadsTheSame() {
        let seed = UInt64(ProcessInfo.processInfo.environment["VRAMD_REQUEST_READER_SEED"] ?? "") ?? 11
        let cases = Int(ProcessInfo.processInfo.environment["VRAMD_REQUEST_READER_CASES"] ?? "") ?? 4000
        var random = SplitMix64(seed: seed)
        var taken = 0, mismatches: [String] = []
        for index in 0..<cases {
            var bytes = Self.randomRequest(&random)
            if index % 4 != 0 { ByteMutation.mutate(&bytes, alphabet: "\r\n :;,0aAZ\t\u{0}-/?#%", using: &random) }
            if case .request = Self.read(bytes) { taken += 1 }
            if let mismatch = RequestReaderOracle.mismatch(bytes) { mismatches.append(mismatch) }
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(5))")
        #expect(taken > cases / 4, "too few requests taken to mean anything: \(taken)")
    }
}
