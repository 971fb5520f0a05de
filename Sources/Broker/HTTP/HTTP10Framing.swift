import NIOCore
import NIOHTTP1

/// Frames answers for HTTP/1.0 clients, which the framework answers as HTTP/1.1.
///
/// An answer of unknown length (an event stream) is chunked for HTTP/1.1, which an HTTP/1.0
/// client cannot read: it sees the chunk sizes as part of the stream. Such an answer goes out as
/// HTTP/1.0 instead (as Go's server answers): its body ends with the connection, and the
/// connection says so. A request that asked to be kept alive and gets an answer of known length
/// is told it is kept alive, which HTTP/1.0 does not otherwise assume.
///
/// It sits between NIO's HTTP/1 codec and the conversion to `HTTPTypes`, the one place that still
/// knows a request's version.
final class HTTP10Framing: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private struct Request {
        let old: Bool
        let keepAlive: Bool
        let bodiless: Bool
    }

    /// The requests read and not yet answered, oldest first (clients may pipeline).
    private var requests: [Request] = []
    /// Whether the answer being written ends with the connection.
    private var closesAfterAnswer = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            let old = head.version == .http1_0
            requests.append(Request(old: old, keepAlive: old && head.isKeepAlive, bodiless: head.method == .HEAD))
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            guard let request = requests.first, request.old else { break }
            closesAfterAnswer = Self.frame(&head, for: request)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
            return
        case .end:
            if !requests.isEmpty { requests.removeFirst() }
            if closesAfterAnswer {
                closesAfterAnswer = false
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(data).whenComplete { result in
                    promise?.completeWith(result)
                    bound.value.close(promise: nil)
                }
                return
            }
        default:
            break
        }
        context.write(data, promise: promise)
    }

    /// Makes `head` one an HTTP/1.0 client can read; true when the connection must close after
    /// the answer, because its end is the end of the body or the client did not ask to keep it.
    private static func frame(_ head: inout HTTPResponseHead, for request: Request) -> Bool {
        head.version = .http1_0
        head.headers.remove(name: "Transfer-Encoding")
        let framed = request.bodiless || head.status == .noContent || head.status == .notModified
            || head.headers.contains(name: "Content-Length")
        let closes = !framed || !request.keepAlive || head.headers[canonicalForm: "connection"].contains("close")
        head.headers.replaceOrAdd(name: "Connection", value: closes ? "close" : "keep-alive")
        return closes
    }
}
