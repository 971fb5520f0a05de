import Dispatch
import NIOCore

/// The first reader of a client connection's bytes, ahead of NIO's HTTP decoder: it reads each
/// request with ``ClientRequestReader`` and gives it whole to ``DirectProxyHandler``, which
/// proxies it or hands it on to the framework, and llhttp is not involved. The first request it
/// does not take (``ClientRequestReader/Reading/foreign``) goes to the decoder with every byte
/// after it, and the connection is llhttp's from then on, as it was before this reader.
///
/// Requests are given one at a time: while one is in progress, the bytes of the next wait here
/// (a pipelining client) until ``DirectProxyHandler`` has answered and calls ``resume()``.
final class ClientRequestFront: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let direct: DirectProxyHandler
    private let maxBody: Int
    private var context: ChannelHandlerContext?
    /// Bytes read and not yet given on.
    private var input: ByteBuffer?
    /// How far `input` was searched for the end of a head.
    private var scanned = 0
    /// A head read whose body has not all come.
    private var head: ClientRequestHead?
    /// When the request at the front of `input` began to arrive, for its duration in the metrics.
    private var started: UInt64 = 0
    /// The decoder reads everything from now on.
    private var passing = false
    /// A request that ends its connection was given on: what follows it is not read (llhttp
    /// refuses bytes after such a request too).
    private var ended = false

    init(direct: DirectProxyHandler, maxBody: Int) {
        self.direct = direct
        self.maxBody = maxBody
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        direct.front = nil
    }

    /// Whether bytes of a request wait here.
    var holdsBytes: Bool { input != nil || head != nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !passing else { return context.fireChannelRead(data) }
        guard !ended else { return }
        let bytes = unwrapInboundIn(data)
        if var waiting = input.take() {
            // What earlier requests took is dropped first: a client that pipelines may never
            // let the buffer run empty, and it would otherwise keep every byte it ever sent.
            waiting.discardReadBytes()
            waiting.writeImmutableBuffer(bytes)
            input = waiting
        } else {
            input = bytes
            if head == nil { started = DispatchTime.now().uptimeNanoseconds }
        }
        resume()
    }

    /// Gives ``DirectProxyHandler`` the requests whose bytes are all here, as long as it takes
    /// them.
    func resume() {
        guard let context, !passing else { return }
        while direct.takesRequests, var bytes = input.take() {
            if head == nil {
                switch ClientRequestReader.read(&bytes, scanned: scanned, maxBody: maxBody) {
                case .incomplete(let searched):
                    scanned = searched
                    input = bytes
                    return
                case .foreign:
                    return passOn(bytes, context: context)
                case .head(let read):
                    scanned = 0
                    head = read
                    // Room for the body at once, so a long one is not copied as it grows; up to
                    // a bound, so a length declared and not sent does not reserve the limit.
                    let missing = read.bodyLength - bytes.readableBytes
                    if missing > 0 { bytes.reserveCapacity(minimumWritableBytes: min(missing, DirectProxyHandler.bodyRoomUpFront)) }
                }
            }
            guard let head, bytes.readableBytes >= head.bodyLength else {
                input = bytes
                return
            }
            let body = head.bodyLength == 0 ? ByteBuffer() : bytes.readSlice(length: head.bodyLength)!
            self.head = nil
            let began = started
            if !head.keepAlive {
                ended = true
            } else if bytes.readableBytes > 0 {
                input = bytes
                started = DispatchTime.now().uptimeNanoseconds
            }
            direct.take(head, body: body, started: began)
        }
    }

    /// Hands the connection to llhttp, starting with `bytes`.
    private func passOn(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        passing = true
        context.fireChannelRead(wrapInboundOut(bytes))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A request cut short by the end of the input is llhttp's to refuse, as before.
        if let event = event as? ChannelEvent, case .inputClosed = event, !passing, let bytes = unread() { passOn(bytes, context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Nobody is left to answer a request cut short here.
        input = nil
        head = nil
        context.fireChannelInactive()
    }

    /// The bytes here not yet given on, from the start of the request they begin.
    private func unread() -> ByteBuffer? {
        var bytes = head.take()?.bytes ?? ByteBuffer()
        if var rest = input.take() { bytes.writeBuffer(&rest) }
        scanned = 0
        return bytes.readableBytes > 0 ? bytes : nil
    }
}
