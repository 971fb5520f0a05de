import NIOHTTP1

/// How an answer is framed for an HTTP/1.0 request, on both paths.
///
/// Both paths write their answers as HTTP/1.1, and for an answer of unknown length (an event
/// stream) NIO's encoder then adds `Transfer-Encoding: chunked`, which an HTTP/1.0 client cannot
/// read: it sees the chunk sizes as part of the stream. Such an answer goes out as HTTP/1.0
/// instead (as Go's server answers), its body ends with the connection, and the connection says
/// so. A request that asked to be kept alive and gets an answer of known length is told it is
/// kept alive, which HTTP/1.0 does not otherwise assume.
///
/// It is applied where each path already looks at its parts (``DirectProxyHandler`` for the
/// framework's answers, ``DirectExchange`` for its own) rather than in a handler of its own,
/// which cost every request about four percent of its CPU to look at parts that are nearly
/// always HTTP/1.1.
struct HTTP10Framing {
    let old: Bool
    let keepAlive: Bool
    let bodiless: Bool

    init(_ request: HTTPRequestHead) {
        old = request.version == .http1_0
        // Only an HTTP/1.0 request's is needed, and finding it reads the headers.
        keepAlive = old && request.isKeepAlive
        bodiless = request.method == .HEAD
    }

    /// Makes `head` one the client can read; true when the connection must close after the
    /// answer, because its end is the end of the body or the client did not ask to keep it.
    func frame(_ head: inout HTTPResponseHead) -> Bool {
        guard old else { return false }
        head.version = .http1_0
        head.headers.remove(name: "Transfer-Encoding")
        let framed = bodiless || head.status == .noContent || head.status == .notModified
            || head.headers.contains(name: "Content-Length")
        let closes = !framed || !keepAlive || head.headers[canonicalForm: "connection"].contains("close")
        head.headers.replaceOrAdd(name: "Connection", value: closes ? "close" : "keep-alive")
        return closes
    }

    /// ``frame(_:)`` for the answer to `request`.
    static func frame(_ head: inout HTTPResponseHead, for request: HTTPRequestHead) -> Bool {
        request.version == .http1_0 && HTTP10Framing(request).frame(&head)
    }
}
