import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 channel with the direct path placed before the conversion to
/// `HTTPTypes`: a request is read by vramd's own reader (``ClientRequestFront``) ahead of NIO's
/// decoder, or by that decoder once the reader has left a connection to it; one proxied is
/// answered in bytes at the pipeline's front (``RawAnswerOutlet``), and only what is handed on
/// to the framework is converted.
///
/// The pipeline is otherwise the one `HTTP1Channel` builds (the same decoder limits, the same
/// connection state handler and async channel), so the framework's path is unchanged. The
/// conversion cost about a tenth of a proxied request's CPU: every header of the request turned
/// into `HTTPFields` (its path through `URLComponents`) and every header of the answer back.
struct BrokerHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let direct: DirectProxy

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            var limits = NIOHTTPDecoderLimitConfiguration()
            let defaults = HTTP1Channel.Configuration.DecoderConfiguration()
            limits.maxHeaderFieldSize = defaults.maxHeaderFieldSize
            limits.maxHeaderListSize = defaults.maxHeaderListSize
            limits.maxHeaderFieldCount = defaults.maxHeaderFieldCount
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false,  // the async channel and this path answer in order
                withErrorHandling: false,  // the framework answers errors
                withOutboundHeaderValidation: false,  // HTTPTypes validates the framework's; the direct path passes the backend's on
                withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: limits
            )
            let outlet = RawAnswerOutlet()
            try pipeline.addHandler(outlet, position: .first)
            let proxy = DirectProxyHandler(shared: direct, outlet: outlet)
            let front = ClientRequestFront(direct: proxy, maxBody: Int(clamping: direct.settings.maxBody))
            proxy.front = front
            try pipeline.addHandler(front, position: .after(outlet))
            try pipeline.addHandler(proxy)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(ClientHangUp())
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}
