import NIOCore
import NIOHTTP1

/// A client's request head as the direct path reads it without llhttp: what it needs to route
/// and forward the request, with the fields as ranges of the head's own bytes.
struct ClientRequestHead {
    /// From the request line to the blank line, both included.
    let bytes: ByteBuffer
    let method: HTTPMethod
    /// The origin-form target, path and query, within `bytes`.
    let target: Range<Int>
    /// HTTP/1.0 rather than HTTP/1.1.
    let old: Bool
    let keepAlive: Bool
    /// The body's length: its `Content-Length`, or 0 without one.
    let bodyLength: Int
    /// Every field, within `bytes`; a value has no surrounding whitespace.
    let fields: [(name: Range<Int>, value: Range<Int>)]
    let contentType: Range<Int>?
    let authorization: Range<Int>?

    /// The target as a string, which only the framework's path needs.
    var uri: String { value(target)! }

    func value(_ range: Range<Int>?) -> String? {
        range.map { range in bytes.withUnsafeReadableBytes { String(decoding: $0[range], as: UTF8.self) } }
    }

    /// The same request in NIO's types, for the framework when the direct path hands it on.
    var decoded: HTTPRequestHead {
        var headers = HTTPHeaders()
        bytes.withUnsafeReadableBytes { raw in
            for field in fields {
                headers.add(name: String(decoding: raw[field.name], as: UTF8.self), value: String(decoding: raw[field.value], as: UTF8.self))
            }
        }
        return HTTPRequestHead(version: old ? .http1_0 : .http1_1, method: method, uri: uri, headers: headers)
    }
}

/// Reads the requests of a client connection for the direct path, in place of llhttp and the
/// `HTTPHeaders` NIO's decoder builds: reading a request into them was about 13,000 of the
/// 94,000 instructions a small proxied request cost.
///
/// It takes only the plain request of an HTTP API client: a known method, an origin-form target
/// of URI characters, `HTTP/1.1` or `HTTP/1.0`, lines ending in CRLF, token names with no space
/// before the colon, values of visible ASCII, spaces and tabs, at most one `Content-Length` and no
/// `Transfer-Encoding`, `Expect` or `Upgrade`, and a head of at most ``maxHead`` bytes. Anything
/// else is ``Reading/foreign``: llhttp reads it, and the rest of its connection, as before. So
/// this reader never has to refuse or repair a request, and where the two could frame a request
/// differently it does not read it at all. What it takes, llhttp reads with the same method,
/// target, version, fields and body length (`ClientRequestReaderTests` checks both on mutated
/// requests).
enum ClientRequestReader {
    enum Reading {
        /// The head is not all there yet; `scanned` bytes of it were searched for its end.
        case incomplete(scanned: Int)
        /// Not a request this reader takes.
        case foreign
        /// The head, read off the input; its body of `head.bodyLength` bytes follows.
        case head(ClientRequestHead)
    }

    /// Longer heads are llhttp's to read (up to its own limit of 80 KB).
    static let maxHead = 16 * 1024
    static let maxFields = 100

    /// The request head at the start of `input`, consuming it; a body longer than `maxBody` is
    /// ``Reading/foreign``, left for the framework to refuse.
    static func read(_ input: inout ByteBuffer, scanned: Int, maxBody: Int) -> Reading {
        let end = input.withUnsafeReadableBytes { HTTPHeadBytes.end($0, from: scanned) }
        guard let end else {
            guard input.readableBytes <= maxHead else { return .foreign }
            return .incomplete(scanned: max(0, input.readableBytes - 3))
        }
        guard end <= maxHead, let head = parse(input.getSlice(at: input.readerIndex, length: end)!), head.bodyLength <= maxBody else {
            return .foreign
        }
        input.moveReaderIndex(forwardBy: end)
        return .head(head)
    }

    static func parse(_ head: ByteBuffer) -> ClientRequestHead? {
        head.withUnsafeReadableBytes { bytes -> ClientRequestHead? in
            var lines = HeadLines(bytes)
            guard let requestLine = lines.next(), let (method, target, old) = parseRequestLine(bytes, requestLine) else { return nil }
            var fields: [(name: Range<Int>, value: Range<Int>)] = []
            fields.reserveCapacity(16)
            var length: Int?, contentType: Range<Int>?, authorization: Range<Int>?
            var close = false, keepAliveAsked = false
            while let line = lines.next(), !line.isEmpty {
                guard fields.count < maxFields, let field = HTTPHeadBytes.field(bytes, line, asciiOnly: true) else { return nil }
                fields.append(field)
                let name = bytes[field.name]
                switch name.count {
                case 6 where name.equalsIgnoringCase("expect"), 7 where name.equalsIgnoringCase("upgrade"),
                     17 where name.equalsIgnoringCase("transfer-encoding"):
                    return nil
                case 10 where name.equalsIgnoringCase("connection"):
                    // NIO's reading of the tokens trims spaces, not tabs: `close\t` is not `close` there.
                    guard !HTTPHeadBytes.holdsTab(bytes, field.name.upperBound..<line.upperBound) else { return nil }
                    for token in HTTPHeadBytes.listElements(bytes, field.value) {
                        if bytes[token].equalsIgnoringCase("close") { close = true }
                        if bytes[token].equalsIgnoringCase("keep-alive") { keepAliveAsked = true }
                        // llhttp treats a request that asks to upgrade apart.
                        if bytes[token].equalsIgnoringCase("upgrade") { return nil }
                    }
                case 12 where name.equalsIgnoringCase("content-type"):
                    contentType = field.value
                case 13 where name.equalsIgnoringCase("authorization"):
                    authorization = field.value
                case 14 where name.equalsIgnoringCase("content-length"):
                    guard length == nil else { return nil }
                    length = HTTPHeadBytes.length(bytes, value: field.value, line: field.name.upperBound..<line.upperBound)
                    guard length != nil else { return nil }
                default:
                    break
                }
            }
            // Both asked: NIO's reading of it depends on the version; not worth following.
            guard !(close && keepAliveAsked) else { return nil }
            return ClientRequestHead(
                bytes: head, method: method, target: target, old: old,
                keepAlive: old ? keepAliveAsked : !close, bodyLength: length ?? 0, fields: fields,
                contentType: contentType, authorization: authorization
            )
        }
    }

    /// `METHOD /target HTTP/1.x`, with single spaces.
    private static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> (HTTPMethod, Range<Int>, old: Bool)? {
        var space = line.lowerBound
        while space < line.upperBound, bytes[space] != 0x20 { space += 1 }
        guard let method = method(bytes[line.lowerBound..<space]) else { return nil }
        let version = line.upperBound - 9
        guard version > space + 1, bytes[version] == 0x20, bytes[(version + 1)..<(line.upperBound - 1)].equals("HTTP/1.") else {
            return nil
        }
        let minor = bytes[line.upperBound - 1]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1") else { return nil }
        let target = (space + 1)..<version
        guard bytes[target.lowerBound] == UInt8(ascii: "/") else { return nil }
        for at in target where !isTargetByte(bytes[at]) { return nil }
        return (method, target, minor == UInt8(ascii: "0"))
    }

    private static func method(_ name: Slice<UnsafeRawBufferPointer>) -> HTTPMethod? {
        // Only exact uppercase names: llhttp reads no other spelling of them.
        switch name.count {
        case 3 where name.equals("GET"): .GET
        case 3 where name.equals("PUT"): .PUT
        case 4 where name.equals("POST"): .POST
        case 4 where name.equals("HEAD"): .HEAD
        case 5 where name.equals("PATCH"): .PATCH
        case 6 where name.equals("DELETE"): .DELETE
        case 7 where name.equals("OPTIONS"): .OPTIONS
        default: nil
        }
    }

    /// RFC 3986's unreserved and reserved characters except `#` and `[]`, and `%`: what a
    /// target's path and query hold, percent-encoded where they need more.
    private static func isTargetByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: "/"),
             UInt8(ascii: "?"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","),
             UInt8(ascii: ";"), UInt8(ascii: "="): true
        default: false
        }
    }
}
