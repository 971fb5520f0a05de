// vramd's reader of backend answers (UpstreamResponseParser) against llhttp (NIO's own
// decoder). Used by UpstreamResponseParserTests and, through a link in Fuzz/AnswerFuzz, by the
// answer fuzz target, so the test suite and the fuzzer judge an input the same way. It imports
// no testing library.

import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import Broker

enum AnswerParserOracle {
    /// What a parser made of a whole connection's bytes.
    struct Answer: Equatable, CustomStringConvertible {
        var status: Int
        var fields: [String]
        var body: [UInt8]
        var keepAlive: Bool
        var framing: UpstreamResponseHead.Framing
        var isEventStream: Bool

        var description: String { "\(status) \(fields) \(String(decoding: body, as: UTF8.self).debugDescription) keepAlive \(keepAlive) \(framing)" }
    }

    enum Outcome: Equatable {
        case answer(Answer)
        case failed(String)
        /// The bytes ran out before the answer ended, and the connection stays open.
        case incomplete
    }

    /// Feeds `bytes` in pieces cut at `cuts`, keeping what is unread as ``UpstreamConnection``
    /// does, then (with `closed`) closes the connection.
    static func parse(_ bytes: [UInt8], cuts: [Int] = [], closed: Bool = true) -> Outcome {
        var parser = UpstreamResponseParser()
        var answer: Answer?
        var unread: ByteBuffer?
        let bounds = [0] + cuts.filter { $0 > 0 && $0 < bytes.count }.sorted() + [bytes.count]
        do {
            for (start, end) in zip(bounds, bounds.dropFirst()) {
                var input = ByteBuffer(bytes: bytes[start..<end])
                if var kept = unread {
                    unread = nil
                    kept.writeBuffer(&input)
                    input = kept
                }
                while let event = try parser.next(&input) {
                    switch event {
                    case .head(let head):
                        // The ranges index the head's bytes, not a string made of them: a byte
                        // that is not UTF-8 becomes three in one.
                        let raw = Array(head.bytes.readableBytesView)
                        let fields = head.fields.map { String(decoding: raw[$0.name], as: UTF8.self) + "=" + String(decoding: raw[$0.value], as: UTF8.self) }
                        answer = Answer(status: head.status, fields: fields, body: [], keepAlive: head.keepAlive, framing: head.framing,
                                        isEventStream: head.isEventStream)
                    case .body(let body):
                        answer?.body += body.readableBytesView
                    case .end:
                        guard let answer else { return .failed("an end without a head") }
                        // Bytes after the answer, those still to come included, are the
                        // connection's next error.
                        input.writeBytes(bytes[end...])
                        if input.readableBytes > 0 { _ = try parser.next(&input) }
                        return .answer(answer)
                    }
                }
                if input.readableBytes > 0 { unread = input }
            }
            guard closed else { return .incomplete }
            if case .end? = try parser.inputClosed(), let answer { return .answer(answer) }
            return .incomplete
        } catch {
            return .failed(error.description)
        }
    }

    /// How vramd's parser reads `bytes` differently from llhttp, or cut at `cuts` from whole;
    /// `nil` where it does not. Wherever it reads an answer, llhttp must read the same status,
    /// fields and body: a mismatch could let a backend's answer be framed differently by vramd
    /// and by a reader behind it. And an answer must read the same however its bytes arrive.
    static func mismatch(_ bytes: [UInt8], cuts: [Int] = []) -> String? {
        let ours = parse(bytes)
        if !cuts.isEmpty, case let split = parse(bytes, cuts: cuts), !sameKind(split, ours) {
            return "\(quoted(bytes)) cut at \(cuts): \(split), whole: \(ours)"
        }
        guard case .answer(let answer) = ours else { return nil }
        let theirs = nioParse(bytes)
        if case .answer(let read) = theirs, read.status == answer.status, read.body == answer.body, read.fields == answer.fields {
            return nil
        }
        return "\(quoted(bytes)): ours \(answer), llhttp \(theirs)"
    }

    /// Answers must match exactly; a refusal may name what it met first, which can depend on
    /// where a read ended, but it must be a refusal either way.
    private static func sameKind(_ one: Outcome, _ other: Outcome) -> Bool {
        switch (one, other) {
        case (.answer(let a), .answer(let b)): a == b
        case (.failed, .failed), (.incomplete, .incomplete): true
        default: false
        }
    }

    /// ``mismatch(_:cuts:)`` for an input of the answer fuzz target (and its corpus): the first
    /// byte places a cut in the rest (0: none, 255: at the end), read as the bytes would arrive
    /// in two reads.
    static func mismatch(fuzzInput: UnsafeBufferPointer<UInt8>) -> String? {
        guard let selector = fuzzInput.first else { return nil }
        let bytes = Array(fuzzInput.dropFirst())
        return mismatch(bytes, cuts: [bytes.count * Int(selector) / 255])
    }

    static func quoted(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self).debugDescription }

    /// What NIO's client decoder makes of the same bytes, after a `POST`.
    static func nioParse(_ bytes: [UInt8]) -> Outcome {
        let channel = EmbeddedChannel()
        // The channel is closed below to tell the decoder the input ended; a plain `finish()`
        // on a closed channel throws before it lets go of the pipeline, which then leaks.
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        do {
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")))
            try channel.writeOutbound(HTTPClientRequestPart.end(nil))
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            try channel.close().wait()
        } catch {
            if let answer = nioAnswer(channel) { return .answer(answer) }
            return .failed("\(error)")
        }
        return nioAnswer(channel).map(Outcome.answer) ?? .incomplete
    }

    private static func nioAnswer(_ channel: EmbeddedChannel) -> Answer? {
        var answer: Answer?
        while let part = try? channel.readInbound(as: HTTPClientResponsePart.self) {
            switch part {
            case .head(let head):
                // llhttp keeps the whitespace after a value, which RFC 9110 says is not part of it.
                let fields = head.headers.map { "\($0.name)=" + String($0.value.reversed().drop { $0 == " " || $0 == "\t" }.reversed()) }
                answer = Answer(status: Int(head.status.code), fields: fields, body: [],
                                keepAlive: head.isKeepAlive, framing: .none, isEventStream: false)
            case .body(let body):
                answer?.body += body.readableBytesView
            case .end:
                return answer
            }
        }
        return nil
    }
}
