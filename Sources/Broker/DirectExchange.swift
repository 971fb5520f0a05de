import Dispatch
import HTTPTypes
import Metrics
import NIOCore
import NIOHTTP1

/// One request on the direct path, from the lease to the last byte of its answer: it sends the
/// request to the backend over a pooled connection and writes the answer to the client as
/// ``Proxy`` would (the same headers passed on, whole JSON answers in one write, streams as they
/// come, the same structured errors), all on the client connection's event loop. Both heads are
/// written as bytes (``DirectWire``), and the answer goes out through ``RawAnswerOutlet``.
final class DirectExchange: UpstreamReceiver {
    let request: ClientHead
    let route: ProxyRoute
    /// Until an answer begins: it is sent again only if none did. It may hold a whole read
    /// from the client, which a stream should not keep for its length.
    private(set) var body: ByteBuffer
    let model: String
    /// When the request's head arrived, for its duration in the request metrics.
    let started: UInt64

    private let shared: DirectProxy
    private let recentSeries: RecentSeries
    private let context: ChannelHandlerContext
    private let outlet: RawAnswerOutlet
    private let done: (DirectExchange) -> Void
    private var lease: Lease?
    private var target: UpstreamTarget?
    private var pool: UpstreamPool?
    private var connection: UpstreamConnection?
    private var tries = 0
    /// The answer's status, once its head has come.
    private var status: Int?
    private var framing = DirectWire.Framing.none
    /// The answer so far, head included, when it is read whole before it is passed on.
    private var whole: ByteBuffer?
    private var isEventStream = false
    private var active: Meter?
    /// What one read from the backend brought of a streamed answer, framed: the events that
    /// arrived at once go out at the end of the read in one write, not one each.
    private var pending: ByteBuffer?
    /// Parts of a stream written but not yet flushed.
    private var unflushed = false
    private(set) var finished = false
    /// The answer ends with the connection: the client asked so, or it reads HTTP/1.0 and the
    /// answer's length is not known.
    private(set) var closesConnection = false

    init(request: ClientHead, route: ProxyRoute, body: ByteBuffer, model: String, started: UInt64, shared: DirectProxy,
         recentSeries: RecentSeries, context: ChannelHandlerContext, outlet: RawAnswerOutlet, done: @escaping (DirectExchange) -> Void) {
        self.request = request
        self.route = route
        self.body = body
        self.model = model
        self.started = started
        self.shared = shared
        self.recentSeries = recentSeries
        self.context = context
        self.outlet = outlet
        self.done = done
    }

    /// Sends the request to the backend `lease` points at.
    func start(_ lease: Lease, target: UpstreamTarget, from pool: UpstreamPool) {
        self.lease = lease
        self.target = target
        self.pool = pool
        active = recentSeries.postsActive(in: shared.metrics)
        active?.increment()
        send()
    }

    private func send() {
        guard let lease, let target, let pool else { return }
        tries += 1
        let outgoing = DirectWire.request(request, prefix: target.prefix, path: route.backendPath(in: lease.shared.config.paths),
                                          authority: target.authority, body: body, allocator: context.channel.allocator)
        pool.withConnection(to: target) { result in
            switch result {
            case .success(let connection):
                guard !self.finished else { return connection.abort() }
                self.connection = connection
                connection.send(outgoing.bytes, body: outgoing.inlined ? nil : self.body, to: self)
            case .failure(let error):
                guard !self.finished else { return }
                self.answer(.unreachable(lease, error))
            }
        }
    }

    // MARK: The answer

    func upstreamHead(_ head: UpstreamResponseHead) {
        status = head.status
        body = ByteBuffer()
        isEventStream = head.isEventStream
        let old = request.old
        switch head.framing {
        case .none: framing = .none
        case .length(let length): framing = .length(length)
        case .chunked, .untilClose: framing = old ? .untilClose : .chunked
        }
        closesConnection = !request.isKeepAlive || framing == .untilClose
        // A whole answer is read into the buffer behind its head; a stream's first events
        // usually come with it.
        var buffered: Int?
        if case .length(let length) = framing, !isEventStream, length <= Proxy.bufferedBodyLimit { buffered = length }
        let reserving = buffered ?? Self.streamRoom
        let bytes = head.bytes
        let answer = DirectWire.answer(
            status: head.status, reason: bytes.readableBytesView[bytes.readerIndex + head.reason.lowerBound..<bytes.readerIndex + head.reason.upperBound],
            framing: framing, closes: closesConnection, old: old, server: shared.serverName, reserving: reserving,
            allocator: context.channel.allocator
        ) { out in
            bytes.withUnsafeReadableBytes { raw in
                for field in head.fields {
                    let name = UnsafeRawBufferPointer(rebasing: raw[field.name])
                    guard !DirectWire.dropsAnswerField(name) else { continue }
                    out.writeField(name, UnsafeRawBufferPointer(rebasing: raw[field.value]))
                }
            }
        }
        if buffered != nil {
            whole = answer
        } else {
            pending = answer
        }
    }

    /// Room for a stream's first events behind its head, enough for a few of a chat's.
    private static let streamRoom = 1536

    func upstreamBody(_ body: ByteBuffer) {
        if whole != nil {
            whole!.writeImmutableBuffer(body)
            return
        }
        guard framing == .chunked else {
            writePending()
            outlet.write(body, promise: nil)
            unflushed = true
            return
        }
        // Taken out while it grows, so it is the buffer's only reference and is not copied.
        var out = pending.take() ?? context.channel.allocator.buffer(capacity: Self.streamRoom)
        if DirectWire.appendChunk(body, to: &out) {
            pending = out
        } else {
            outlet.write(out, promise: nil)
            outlet.write(body, promise: nil)
            outlet.write(DirectWire.chunkEnd, promise: nil)
            unflushed = true
        }
    }

    func upstreamReadComplete() {
        writePending()
        guard unflushed else { return }
        unflushed = false
        outlet.flush()
    }

    /// Writes what the read so far brought, unflushed.
    private func writePending() {
        guard let bytes = pending.take() else { return }
        outlet.write(bytes, promise: nil)
        unflushed = true
    }

    func upstreamEnd() {
        connection = nil
        unflushed = false
        releaseLease()
        let rest: ByteBuffer
        if let whole {
            rest = whole
        } else if var bytes = pending.take() {
            if framing == .chunked { bytes.writeImmutableBuffer(DirectWire.lastChunk) }
            rest = bytes
        } else {
            rest = framing == .chunked ? DirectWire.lastChunk : Self.nothing
        }
        outlet.write(rest, promise: nil)
        outlet.flush()
        finish(status: status ?? 200, failed: false)
    }

    private static let nothing = ByteBuffer()

    func upstreamFailed(_ error: any Error) {
        let reused = connection?.reused ?? false
        connection = nil
        guard let lease, !finished else { return }
        let unreadable = error is UpstreamProtocolError
        guard let status else {
            if unreadable { return answer(.unreadable(model, error)) }
            // A kept-alive connection the backend closed as it was picked: nothing was answered,
            // so the request goes once more on a new connection. nginx and Go's client resend a
            // POST only when it could not be written at all; it is resent here whenever no answer
            // began, because a backend closing an idle connection just as it is picked is far
            // likelier than one that read a request and closed without a word.
            if reused && tries == 1 { return send() }
            return answer(.unreachable(lease, error))
        }
        if whole != nil { return answer(unreadable ? .unreadable(model, error) : .brokeOff(model, error)) }
        releaseLease()
        if isEventStream && (framing == .chunked || framing == .untilClose) {
            // The status is sent; the stream can still say why it ends, after what came before.
            var event = ServerSentEvents.error(.brokeOff(model, error))
            if framing == .chunked {
                var chunk = pending.take() ?? context.channel.allocator.buffer(capacity: event.readableBytes + 32)
                DirectWire.appendChunk(event, to: &chunk)
                chunk.writeImmutableBuffer(DirectWire.lastChunk)
                event = chunk
            } else {
                writePending()
            }
            outlet.write(event, promise: nil)
            outlet.flush()
        } else {
            // Any other body can only be cut short, which the client sees as a broken transfer;
            // what arrived before the break still goes out first.
            writePending()
            outlet.flush()
            context.close(promise: nil)
        }
        finish(status: status, failed: false)
    }

    /// Answers with one of vramd's own errors instead of the backend's answer.
    private func answer(_ error: BrokerError) {
        releaseLease()
        let body = error.body
        closesConnection = !request.isKeepAlive
        var answer = DirectWire.answer(
            status: error.statusCode, reason: EmptyCollection(), framing: .length(body.count), closes: closesConnection,
            old: request.old, server: shared.serverName, reserving: body.count, allocator: context.channel.allocator
        ) { out in
            for field in error.headers where field.name != .contentLength { out.writeField(field.name.rawName, field.value) }
        }
        answer.writeBytes(body)
        outlet.write(answer, promise: nil)
        outlet.flush()
        finish(status: error.statusCode, failed: true)
    }

    // MARK: The client

    /// Stops reading a stream while the client cannot take more of it.
    func clientWritable(_ writable: Bool) {
        connection?.setReading(writable)
    }

    /// The client went away: the backend's connection is closed, which ends its work.
    func abort() {
        guard !finished else { return }
        connection?.abort()
        connection = nil
        releaseLease()
        finish(status: status ?? 500, failed: status == nil)
    }

    private func releaseLease() {
        guard let lease else { return }
        self.lease = nil
        lease.releaseNow()
    }

    private func finish(status: Int, failed: Bool) {
        guard !finished else { return }
        finished = true
        if let active {
            let series = recentSeries.series(route: route.path, status: status, in: shared.metrics)
            if failed { series.errors.increment() }
            series.record(since: started, active: active)
        }
        done(self)
    }
}

/// Where the direct path writes its answers: at the front of the pipeline, so they go to the
/// socket as the bytes they already are, past the HTTP encoder that the framework's answers go
/// through. An outbound handler because NIO takes no other kind; what others write passes by it
/// unchanged, at the cost of a call.
final class RawAnswerOutlet: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func write(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: promise)
    }

    func flush() {
        context?.flush()
    }
}
