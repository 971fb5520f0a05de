import NIOHTTP1

/// How an answer is framed for an HTTP/1.0 request: the rule both paths follow, and its form
/// for the framework's answers.
///
/// An answer of unknown length (an event stream) is chunked for HTTP/1.1 (by NIO's encoder on the
/// framework's path, by ``DirectWire`` on the direct one), which an HTTP/1.0 client cannot read:
/// it sees the chunk sizes as part of the stream. Such an answer goes out as HTTP/1.0
/// instead (as Go's server answers), its body ends with the connection, and the connection says
/// so. A request that asked to be kept alive and gets an answer of known length is told it is
/// kept alive, which HTTP/1.0 does not otherwise assume.
///
/// It is applied to the framework's answers where ``DirectProxyHandler`` already looks at
/// them, rather than in a handler of its own, which cost every request about four percent of
/// its CPU to look at parts that are nearly always HTTP/1.1. The direct path writes its heads as
/// bytes and applies the same rule there (``DirectExchange/upstreamHead(_:)``,
/// ``DirectWire/answer(status:reason:framing:closes:old:server:reserving:allocator:fields:)``).
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
}
