import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import VRAMConfig

/// Hummingbird's HTTP/1.1 channel with vramd's connection handlers: the hang-up detector, the
/// answer to `Expect: 100-continue`, HTTP/1.0 framing, the idle timeout and one header limit.
struct BrokerChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    /// The most a request's head (its request line and every field together) may hold.
    static let maxHead = 64 * 1024

    let http1: HTTP1Channel

    init(responder: @escaping HTTPChannelHandler.Responder, settings: BrokerSettings) {
        let maxBody = settings.maxBody
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ClientHangUp(), ExpectContinue(maxBody: maxBody)],
            idleTimeout: TimeAmount(settings.idleTimeout),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: Self.maxHead, maxHeaderListSize: Self.maxHead)
        )
        http1 = HTTP1Channel(responder: responder, configuration: configuration)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Below the conversion to HTTPTypes, where a request's version is still known.
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTP10Framing(), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}
