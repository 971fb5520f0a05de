import NIOCore
import NIOHTTP1

/// The heads the direct path writes as bytes: its request to a backend, and its answer to a
/// client. Building `HTTPHeaders` for NIO's encoders, only for them to serialise the same
/// fields again, was about a tenth of a proxied request's CPU.
///
/// What goes into them was checked on the way in: a client's fields by ``ClientRequestReader``
/// or NIO's decoder (llhttp), a backend's by ``UpstreamResponseParser``; none lets a CR or LF
/// into a name or value.
enum DirectWire {
    /// The request for a backend: its head, and behind it in the same buffer a body of at most
    /// ``inlineBody`` bytes; `inlined` is false when the body is larger and the caller's to
    /// write after it, as it came.
    ///
    /// Its target is the backend's `prefix` and `path`, then the client's query: written one
    /// after another, as joining them into one `String` first cost an allocation and a copy.
    static func request(_ client: ClientHead, prefix: String, path: String, authority: String, body: ByteBuffer,
                        allocator: ByteBufferAllocator) -> (bytes: ByteBuffer, inlined: Bool) {
        let bodyLength = body.readableBytes
        let inlined = bodyLength <= inlineBody
        var head = client.withTarget { target in
            let query = ProxyRoute.split(target).query
            var head = allocator.buffer(capacity: 128 + prefix.utf8.count + path.utf8.count + query.count
                                            + client.fieldCount * 48 + (inlined ? bodyLength : 0))
            head.writeText(client.methodName)
            head.writeASCII(" ")
            if !prefix.isEmpty { head.writeText(prefix) }
            head.writeText(path)
            if !query.isEmpty { head.writeBytes(query) }
            return head
        }
        head.writeASCII(" HTTP/1.1\r\n")
        client.writeForwardedFields(into: &head)
        head.writeField("Host", authority)
        head.writeASCII("Content-Length: ")
        head.writeDecimal(bodyLength)
        head.writeASCII("\r\n\r\n")
        if inlined { head.writeImmutableBuffer(body) }
        return (head, inlined)
    }

    /// A body this size or smaller goes to a backend in its head's buffer: one pipeline write
    /// costs about as many instructions as copying a few kilobytes.
    static let inlineBody = 4 * 1024

    /// How an answer's body is framed for the client.
    enum Framing: Equatable {
        /// No body (`204`, `304`).
        case none
        case length(Int)
        /// Chunks of vramd's own: one per read from the backend.
        case chunked
        /// The body ends with the connection (an HTTP/1.0 client and a body of unknown length).
        case untilClose
    }

    /// An answer head: the status line, `fields`, vramd's `Date` and `Server`, the framing, and
    /// `Connection` where the client must be told. `reserving` more bytes are allocated behind
    /// it, for a body written into the same buffer.
    static func answer(status: Int, reason: some Collection<UInt8>, framing: Framing, closes: Bool, old: Bool,
                       server: String, reserving: Int = 0, allocator: ByteBufferAllocator,
                       fields: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var head = allocator.buffer(capacity: 512 + reserving)
        head.writeASCII(old ? "HTTP/1.0 " : "HTTP/1.1 ")
        head.writeDecimal(status)
        head.writeASCII(" ")
        let standard = HTTPResponseStatus(statusCode: status).reasonPhrase
        if standard.isEmpty { head.writeBytes(reason) } else { head.writeText(standard) }
        head.writeASCII("\r\n")
        fields(&head)
        head.writeField("Date", HTTPDate.now)
        head.writeField("Server", server)
        switch framing {
        case .none, .untilClose: break
        case .length(let length):
            head.writeASCII("Content-Length: ")
            head.writeDecimal(length)
            head.writeASCII("\r\n")
        case .chunked:
            head.writeASCII("Transfer-Encoding: chunked\r\n")
        }
        // HTTP/1.0 keeps a connection only when told so; HTTP/1.1 is told when it will not be.
        if closes {
            head.writeASCII("Connection: close\r\n")
        } else if old {
            head.writeASCII("Connection: keep-alive\r\n")
        }
        head.writeASCII("\r\n")
        return head
    }

    /// Whether a backend's answer field stays out of the client's answer: what belongs to the
    /// backend's connection (``Proxy/hopByHop``), its framing, which vramd writes anew, and its
    /// `Date` and `Server`, which vramd's own replace.
    static func dropsAnswerField(_ name: UnsafeRawBufferPointer) -> Bool {
        HTTPHeadBytes.isOne(of: droppedAnswerFields, name)
    }

    private static let droppedAnswerFields = Proxy.hopByHopBytes + ["date", "server"].map { Array($0.utf8) }

    /// A chunk this size or smaller (an event of a stream, nearly always) is copied with its
    /// framing into the buffer it goes out in; a larger one's data is written as it came.
    static let copiedChunk = 16 * 1024

    /// What ends a chunk's data, and the last chunk with no trailers.
    static let chunkEnd = ByteBuffer(string: "\r\n")
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    /// Appends `data` to `out` as one chunk: its size line, then (up to ``copiedChunk``) the
    /// data and its CRLF. Returns false for a larger chunk, whose data and CRLF are the caller's
    /// to write after `out`.
    ///
    /// One write of the whole frame: a write per part (`writeStaticString` for each CRLF)
    /// cost several times as much as the bytes of an event.
    @discardableResult
    static func appendChunk(_ data: ByteBuffer, to out: inout ByteBuffer) -> Bool {
        let size = data.readableBytes
        let copied = size <= copiedChunk
        let digits = hexDigits(size)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: digits + 2 + (copied ? size + 2 : 0)) { buffer in
            var at = writeHex(size, digits: digits, into: buffer)
            at = writeCRLF(into: buffer, at: at)
            guard copied else { return at }
            data.withUnsafeReadableBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + size]).copyMemory(from: $0) }
            return writeCRLF(into: buffer, at: at + size)
        }
        return copied
    }

    /// How many digits `value` has in hex.
    static func hexDigits(_ value: Int) -> Int {
        precondition(value >= 0)
        return max(1, (Int.bitWidth - value.leadingZeroBitCount + 3) / 4)
    }

    /// Writes the `digits` last hex digits of `value`, in lowercase as a chunk's size line has
    /// them, at the start of `buffer`; returns how many bytes it wrote.
    static func writeHex(_ value: Int, digits: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        for place in 0..<digits {
            let nibble = UInt8(truncatingIfNeeded: value >> ((digits - 1 - place) * 4)) & 0xF
            buffer[place] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
        }
        return digits
    }

    private static func writeCRLF(into buffer: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        buffer[index] = UInt8(ascii: "\r")
        buffer[index + 1] = UInt8(ascii: "\n")
        return index + 2
    }
}
