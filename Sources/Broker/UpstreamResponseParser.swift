import NIOCore

/// A backend's answer head as the direct path reads it: the status and the fields it needs to
/// pass the answer on, as ranges of the head's own bytes, so nothing is copied into strings.
struct UpstreamResponseHead {
    /// From the status line to the blank line, both included.
    let bytes: ByteBuffer
    let status: Int
    /// The reason phrase, within `bytes` (empty when there is none).
    let reason: Range<Int>
    /// Every field, within `bytes`; a value has no surrounding whitespace.
    let fields: [(name: Range<Int>, value: Range<Int>)]
    let framing: Framing
    /// Whether the connection may carry another exchange once this answer has ended.
    let keepAlive: Bool
    let isEventStream: Bool

    /// How the body's end is found (RFC 9112 §6.3).
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        /// The body ends when the backend closes the connection.
        case untilClose
    }
}

/// A backend's answer the direct path cannot pass on: the exchange fails with `502`.
struct UpstreamProtocolError: Error, CustomStringConvertible {
    let description: String
}

/// Reads a backend's HTTP/1.1 answers from the bytes of its connection, one answer per request,
/// without NIO's decoder (llhttp behind a byte-to-message handler) and the `HTTPHeaders` it
/// builds. The direct path used to spend about a tenth of its CPU there, to read heads whose
/// fields it then copied again.
///
/// It is strict where leniency lets two readers see different answers: lines end in CRLF, a
/// field name is a token with no space before its colon, a folded line or a control character
/// in a value is an error, so are two different `Content-Length`s and a `Content-Length` beside
/// a `Transfer-Encoding`. What it accepts,
/// llhttp accepts with the same body (`UpstreamResponseParserTests` checks both on mutated
/// answers). Interim (`1xx`) answers are skipped, unless one ends the connection; `101` is an
/// error, since nothing here asks to switch protocols.
///
/// It is pulled, an event at a time, so that whoever hears an event may close the connection
/// without the parser being in the middle of a call.
struct UpstreamResponseParser {
    enum Event {
        case head(UpstreamResponseHead)
        case body(ByteBuffer)
        case end
    }

    private enum State {
        /// Waiting for a head; `scanned` bytes of it were searched for its end already.
        case head(scanned: Int)
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        /// The body is all read; `.end` is next.
        case ending
        case done
    }

    /// The longest head (and trailer section) read, as llhttp's limit in NIO's defaults.
    static let maxHead = 80 * 1024
    static let maxFields = 100
    /// A chunk-size line with its extensions.
    static let maxChunkLine = 4096

    private var state = State.head(scanned: 0)

    /// Ready for the answer to the next request on the connection.
    mutating func expectAnswer() {
        state = .head(scanned: 0)
    }

    /// The next event in `input`, consuming its bytes; `nil` when more bytes are needed (what
    /// is left unread is kept by the caller and given again with what follows).
    mutating func next(_ input: inout ByteBuffer) throws(UpstreamProtocolError) -> Event? {
        while true {
            switch state {
            case .head(let scanned):
                let end = Self.headEnd(input, from: scanned)
                guard (end ?? input.readableBytes) <= Self.maxHead else { throw Self.error("the answer's head is longer than \(Self.maxHead) bytes") }
                guard let end else {
                    state = .head(scanned: max(0, input.readableBytes - 3))
                    return nil
                }
                let bytes = input.readSlice(length: end)!
                let head = try Self.parseHead(bytes)
                if (100..<200).contains(head.status) {
                    guard head.status != 101 else { throw Self.error("the backend switched protocols") }
                    // llhttp takes an interim answer that ends the connection (HTTP/1.0, or
                    // `Connection: close`) as the whole exchange, and anything after it as an
                    // error: reading on to a final answer would frame it differently.
                    guard head.keepAlive else { throw Self.error("an interim answer ends the connection") }
                    state = .head(scanned: 0)
                    continue
                }
                switch head.framing {
                case .none: state = .ending
                case .length(let length): state = length == 0 ? .ending : .fixed(remaining: length)
                case .chunked: state = .chunkSize
                case .untilClose: state = .untilClose
                }
                return .head(head)
            case .fixed(let remaining):
                guard input.readableBytes > 0 else { return nil }
                let count = min(remaining, input.readableBytes)
                state = count == remaining ? .ending : .fixed(remaining: remaining - count)
                return .body(input.readSlice(length: count)!)
            case .chunkData(let remaining):
                guard input.readableBytes > 0 else { return nil }
                let count = min(remaining, input.readableBytes)
                state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return .body(input.readSlice(length: count)!)
            case .chunkDataEnd:
                guard input.readableBytes >= 2 else { return nil }
                guard input.readInteger(as: UInt16.self) == 0x0D0A else { throw Self.error("a chunk does not end with CRLF") }
                state = .chunkSize
            case .chunkSize:
                guard let size = try Self.chunkSize(&input) else { return nil }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .trailers:
                let end = Self.headEnd(input, from: 0, allowEmpty: true)
                guard (end ?? input.readableBytes) <= Self.maxHead else { throw Self.error("the trailers are longer than \(Self.maxHead) bytes") }
                guard let end else { return nil }
                // Trailer fields are not passed on (neither did NIO's path), but they are checked.
                let section = input.readSlice(length: end)!
                try section.withUnsafeReadableBytes { bytes throws(UpstreamProtocolError) in
                    var lines = HeadLines(bytes)
                    while let line = lines.next(), !line.isEmpty {
                        // A length in the trailers is not allowed there (RFC 9110) and llhttp
                        // checks one as it checks a head's, refusing what it cannot read: any
                        // framing field there is refused.
                        let name = bytes[try Self.field(bytes, line).name]
                        guard !name.equalsIgnoringCase("content-length"), !name.equalsIgnoringCase("transfer-encoding") else {
                            throw Self.error("a trailer holds a framing field")
                        }
                    }
                }
                state = .done
                return .end
            case .untilClose:
                guard input.readableBytes > 0 else { return nil }
                return .body(input.readSlice(length: input.readableBytes)!)
            case .ending:
                state = .done
                return .end
            case .done:
                guard input.readableBytes == 0 else { throw Self.error("the backend sent bytes after its answer") }
                return nil
            }
        }
    }

    /// The connection has closed: `.end` when that ends the answer's body, `nil` when the answer
    /// had ended already (or never began); an error when it cut the answer short.
    mutating func inputClosed() throws(UpstreamProtocolError) -> Event? {
        switch state {
        case .untilClose, .ending:
            state = .done
            return .end
        case .done:
            return nil
        default:
            throw UpstreamProtocolError(description: "the connection closed before the answer ended")
        }
    }

    private static func error(_ text: String) -> UpstreamProtocolError { UpstreamProtocolError(description: text) }

    // MARK: Heads

    /// The length of the head at the start of `input`, once all of it is there.
    private static func headEnd(_ input: ByteBuffer, from scanned: Int, allowEmpty: Bool = false) -> Int? {
        input.withUnsafeReadableBytes { HTTPHeadBytes.end($0, from: scanned, allowEmpty: allowEmpty) }
    }

    /// `name: value` of one line, the value without the whitespace around it.
    private static func field(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) throws(UpstreamProtocolError) -> (name: Range<Int>, value: Range<Int>) {
        guard let field = HTTPHeadBytes.field(bytes, line) else {
            throw error(HTTPHeadBytes.name(bytes, line) == nil ? "the answer has a malformed field line" : "a field of the answer holds a control character")
        }
        return field
    }

    private static func parseHead(_ head: ByteBuffer) throws(UpstreamProtocolError) -> UpstreamResponseHead {
        try head.withUnsafeReadableBytes { bytes throws(UpstreamProtocolError) in
            var lines = HeadLines(bytes)
            guard let statusLine = lines.next() else { throw error("the answer has no status line") }
            let (version, status, reason) = try parseStatusLine(bytes, statusLine)
            var fields: [(name: Range<Int>, value: Range<Int>)] = []
            fields.reserveCapacity(16)  // one allocation for a usual head, not one per doubling
            var length: Int?
            var codings: [Range<Int>] = []
            var close = false, keepAliveAsked = false, isEventStream = false
            while let line = lines.next(), !line.isEmpty {
                guard fields.count < maxFields else { throw error("the answer has more than \(maxFields) fields") }
                let field = try field(bytes, line)
                fields.append(field)
                let name = bytes[field.name], value = bytes[field.value]
                if name.equalsIgnoringCase("content-length") {
                    // One, and only digits (spaces may follow): what llhttp reads as a length.
                    guard length == nil else { throw error("the answer has two Content-Lengths") }
                    length = HTTPHeadBytes.length(bytes, value: field.value, line: field.name.upperBound..<line.upperBound)
                    guard length != nil else { throw error("the answer's Content-Length is not a length") }
                } else if name.equalsIgnoringCase("transfer-encoding") {
                    // Only spaces around it, as for a length: llhttp does not read `chunked\t` as chunked.
                    guard !HTTPHeadBytes.holdsTab(bytes, field.name.upperBound..<line.upperBound) else {
                        throw error("the answer's Transfer-Encoding holds a tab")
                    }
                    let elements = HTTPHeadBytes.listElements(bytes, field.value)
                    // An empty element ("chunked,") makes readers disagree on the last coding.
                    guard elements.count == bytes[field.value].count(where: { $0 == UInt8(ascii: ",") }) + 1 else {
                        throw error("the answer's Transfer-Encoding has an empty element")
                    }
                    codings.append(contentsOf: elements)
                } else if name.equalsIgnoringCase("connection") {
                    for token in HTTPHeadBytes.listElements(bytes, field.value) {
                        if bytes[token].equalsIgnoringCase("close") { close = true }
                        if bytes[token].equalsIgnoringCase("keep-alive") { keepAliveAsked = true }
                    }
                } else if name.equalsIgnoringCase("content-type") {
                    isEventStream = value.hasPrefixIgnoringCase("text/event-stream")
                }
            }
            // Both lengths at once may be meant to smuggle something (RFC 9112 says to handle
            // it as an error): llhttp refuses it, so the framework's path answers 502, and so
            // does this one.
            guard codings.isEmpty || length == nil else { throw error("the answer has both Content-Length and Transfer-Encoding") }
            let keepAlive = !close && (version == 1 || keepAliveAsked)
            let framing: UpstreamResponseHead.Framing
            if status == 204 || status == 304 || (100..<200).contains(status) {
                framing = .none
            } else if let last = codings.last {
                guard !codings.dropLast().contains(where: { bytes[$0].equalsIgnoringCase("chunked") }) else {
                    throw error("chunked is not the last transfer coding")
                }
                framing = bytes[last].equalsIgnoringCase("chunked") ? .chunked : .untilClose
            } else if let length {
                framing = .length(length)
            } else {
                framing = .untilClose
            }
            return UpstreamResponseHead(bytes: head, status: status, reason: reason, fields: fields, framing: framing,
                                        keepAlive: keepAlive && framing != .untilClose, isEventStream: isEventStream)
        }
    }

    /// `HTTP/1.x SSS [reason]`: the minor version, the status, and the reason's range.
    private static func parseStatusLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) throws(UpstreamProtocolError) -> (Int, Int, Range<Int>) {
        let text = bytes[line], at = line.lowerBound
        guard text.count >= 12, text.prefix(7).equals("HTTP/1."), bytes[at + 7] == 0x30 || bytes[at + 7] == 0x31,
              bytes[at + 8] == 0x20, (9..<12).allSatisfy({ isDigit(bytes[at + $0]) }), bytes[at + 9] != 0x30,
              text.count == 12 || bytes[at + 12] == 0x20
        else { throw error("the answer's status line is not HTTP/1.x") }
        let status = (9..<12).reduce(0) { $0 * 10 + Int(bytes[at + $1] - 0x30) }
        let reason = min(at + 13, line.upperBound)..<line.upperBound
        guard bytes[reason].allSatisfy(isFieldValueByte) else { throw error("the answer's reason phrase holds a control character") }
        return (Int(bytes[at + 7] - 0x30), status, reason)
    }

    // MARK: Chunks

    /// The size on a chunk-size line (its extensions skipped), consuming the line; `nil` until
    /// the whole line is there.
    private static func chunkSize(_ input: inout ByteBuffer) throws(UpstreamProtocolError) -> Int? {
        let scanned = input.withUnsafeReadableBytes { bytes -> (size: Int, length: Int)?? in
            var size = 0, at = 0
            while at < bytes.count, let digit = hexValue(bytes[at]) {
                guard at < 15 else { return .some(nil) }
                size = size << 4 | digit
                at += 1
            }
            guard at > 0 || bytes.isEmpty else { return .some(nil) }
            guard at > 0 else { return nil }
            // Extensions (`;name` or `;name=value`, both tokens), skipped; quoted values and
            // whitespace are refused rather than read.
            while at < bytes.count, bytes[at] == UInt8(ascii: ";") {
                for _ in 0..<2 {
                    at += 1
                    let start = at
                    while at < bytes.count, isTokenByte(bytes[at]) { at += 1 }
                    guard at < maxChunkLine else { return .some(nil) }
                    if at == bytes.count { return nil }
                    guard at > start else { return .some(nil) }
                    guard bytes[at] == UInt8(ascii: "=") else { break }
                }
            }
            guard at == bytes.count || bytes[at] == 0x0D else { return .some(nil) }
            guard at + 1 < bytes.count else { return nil }
            guard bytes[at + 1] == 0x0A else { return .some(nil) }
            return (size, at + 2)
        }
        switch scanned {
        case .none:
            guard input.readableBytes <= maxChunkLine else { throw error("a chunk-size line is too long") }
            return nil
        case .some(.none):
            throw error("a chunk-size line is malformed")
        case .some(.some(let found)):
            input.moveReaderIndex(forwardBy: found.length)
            return found.size
        }
    }
}

private func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte - 0x30)
    case 0x41...0x46: Int(byte - 0x41 + 10)
    case 0x61...0x66: Int(byte - 0x61 + 10)
    default: nil
    }
}
