import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` (RFC 9110 §10.1.1) so a client that waits for it sends its body
/// at once instead of after its own timeout (curl waits a second for every upload over 1 KiB).
///
/// A body announced larger than `max_body` gets no `100 Continue`: the route refuses it (413)
/// without reading it. The field is removed from the request, which has been answered here and
/// must not make the backend answer it again.
final class ExpectContinue: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    let maxBody: Int64

    init(maxBody: Int64) {
        self.maxBody = maxBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var request) = unwrapInboundIn(data), let expect = request.headerFields[.expect] else {
            context.fireChannelRead(data)
            return
        }
        request.headerFields[.expect] = nil
        let announced = request.headerFields[.contentLength].flatMap { Int64($0) } ?? 0
        if expect.lowercased() == "100-continue" && announced <= maxBody {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(wrapInboundOut(.head(request)))
    }
}
