// vramd's reader of client requests against llhttp (NIO's own decoder), byte for byte. Used by
// ClientRequestReaderTests and, through a link in Fuzz/RequestFuzz, by the request fuzz target,
// so the test suite and the fuzzer judge an input the same way. It imports no testing library.

import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import Broker

enum RequestReaderOracle {
    /// A request as either reader saw it.
    struct Request: Equatable, CustomStringConvertible {
        var method: String
        var uri: String
        var old: Bool
        var fields: [String]
        var keepAlive: Bool
        var body: [UInt8]

        var description: String { "\(method) \(uri) old \(old) \(fields) keepAlive \(keepAlive) body \(String(decoding: body, as: UTF8.self).debugDescription)" }
    }

    enum Outcome: Equatable {
        case request(Request, rest: [UInt8])
        case foreign
        case incomplete
    }

    static let maxBody = 1 << 16

    /// Reads `bytes` as ``ClientRequestFront`` does, given in pieces cut at `cuts`.
    static func read(_ bytes: [UInt8], cuts: [Int] = []) -> Outcome {
        let bounds = [0] + cuts.filter { $0 > 0 && $0 < bytes.count }.sorted() + [bytes.count]
        var input = ByteBuffer(), scanned = 0
        var head: ClientRequestHead?
        for (start, end) in zip(bounds, bounds.dropFirst()) {
            input.writeBytes(bytes[start..<end])
            if head == nil {
                switch ClientRequestReader.read(&input, scanned: scanned, maxBody: maxBody) {
                case .incomplete(let searched): scanned = searched; continue
                case .foreign: return .foreign
                case .head(let read): head = read
                }
            }
            guard let head, input.readableBytes >= head.bodyLength else { continue }
            let body = input.readBytes(length: head.bodyLength)!
            input.writeBytes(bytes[end...])  // the pieces still to come, which follow the request
            let raw = Array(head.bytes.readableBytesView)
            let fields = head.fields.map { String(decoding: raw[$0.name], as: UTF8.self) + "=" + String(decoding: raw[$0.value], as: UTF8.self) }
            let request = Request(method: head.method.rawValue, uri: head.uri, old: head.old, fields: fields, keepAlive: head.keepAlive, body: body)
            return .request(request, rest: Array(input.readableBytesView))
        }
        return .incomplete
    }

    /// How vramd's reader and llhttp disagree on `bytes`, or `nil` where they agree: wherever
    /// vramd's reader takes a request, llhttp must read the same method, target, version,
    /// fields and body, and read the bytes after it as it reads them alone; and the reader must
    /// read `bytes` the same way when they come in pieces cut at `cuts`. A mismatch could let a
    /// client's request be framed differently by vramd and by llhttp (request smuggling).
    static func mismatch(_ bytes: [UInt8], cuts: [Int] = []) -> String? {
        let ours = read(bytes)
        if !cuts.isEmpty, case let split = read(bytes, cuts: cuts), split != ours {
            return "\(quoted(bytes)) cut at \(cuts): \(split), whole: \(ours)"
        }
        guard case .request(let request, let rest) = ours else { return nil }
        let theirs = nioRead(bytes)
        // After a request that ends its connection, llhttp refuses what follows and vramd reads
        // none of it; after any other, both must see the next request start alike.
        let sameRest = !request.keepAlive || theirs.after == nioParts(rest).map { $0.map(describe) ?? "error" }
        guard theirs.request != request || !sameRest else { return nil }
        return "\(quoted(bytes)): ours \(request), llhttp \(theirs)"
    }

    /// ``mismatch(_:cuts:)`` for an input of the request fuzz target (and its corpus): the first
    /// byte places a cut in the rest (0: none, 255: at the end), read as the bytes would arrive
    /// in two reads.
    static func mismatch(fuzzInput: UnsafeBufferPointer<UInt8>) -> String? {
        guard let selector = fuzzInput.first else { return nil }
        let bytes = Array(fuzzInput.dropFirst())
        return mismatch(bytes, cuts: [bytes.count * Int(selector) / 255])
    }

    static func quoted(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self).debugDescription }

    /// What NIO's server decoder makes of the same bytes: its first request, and the parts
    /// after that request, described.
    static func nioRead(_ bytes: [UInt8]) -> (request: Request?, after: [String]) {
        var request: Request?, ended = false, after: [String] = []
        for part in nioParts(bytes) {
            guard !ended, case .some(let part) = part else {
                after.append(part.map(describe) ?? "error")
                continue
            }
            switch part {
            case .head(let head):
                // llhttp keeps the whitespace after a value, which RFC 9110 says is not part of it.
                let fields = head.headers.map { "\($0.name)=" + String($0.value.reversed().drop { $0 == " " || $0 == "\t" }.reversed()) }
                request = Request(method: head.method.rawValue, uri: head.uri, old: head.version == .http1_0, fields: fields,
                                  keepAlive: head.isKeepAlive, body: [])
            case .body(let body):
                request?.body += body.readableBytesView
            case .end:
                ended = true
            }
        }
        return (ended ? request : nil, after)
    }

    /// Every part llhttp reads of `bytes`; `nil` where it failed.
    static func nioParts(_ bytes: [UInt8]) -> [HTTPServerRequestPart?] {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        var failed = false
        do {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        } catch {
            failed = true
        }
        var parts: [HTTPServerRequestPart?] = []
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        if failed { parts.append(nil) }
        return parts
    }

    static func describe(_ part: HTTPServerRequestPart) -> String {
        switch part {
        case .head(let head): "head \(head.method) \(head.uri) \(head.version) \(head.headers.map { "\($0.name)=\($0.value)" })"
        case .body(let body): "body \(String(buffer: body))"
        case .end: "end"
        }
    }
}
