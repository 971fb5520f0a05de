import Dispatch
import NIOCore
import NIOHTTP1
import VRAMConfig

/// What every connection's direct path shares.
final class DirectProxy: Sendable {
    let scheduler: Scheduler
    let settings: BrokerSettings
    let metrics: HTTPMetricsCache
    let serverName: String
    let pools = UpstreamPools()

    init(scheduler: Scheduler, settings: BrokerSettings, metrics: HTTPMetricsCache, serverName: String) {
        self.scheduler = scheduler
        self.settings = settings
        self.metrics = metrics
        self.serverName = serverName
    }
}

/// The direct path: a request for a model that is ready, with a slot free and nobody waiting,
/// is proxied right here in the connection's pipeline, without the framework's per-request task,
/// router and body streams, and over vramd's own pooled connections to the backend.
///
/// The framework path cost about 0.3 ms of CPU per proxied request on a small machine, several
/// times what the backend itself spent; most of it was per-request machinery, not the work. Only
/// the common case is taken here: a `POST` to a route whose model is in the body. Everything
/// else (a model to load, a queue, a bad body, a missing token, a request too large, an `https`
/// backend) is handed on to the framework untouched, where ``Routes`` answers it as before.
///
/// It is given a connection's requests whole by ``ClientRequestFront``, read without llhttp,
/// until one of them is not a plain request; from then on it reads NIO's HTTP/1 parts, ahead of
/// the conversion to the framework's types (``BrokerHTTP1Channel``). It writes its answers as
/// bytes past NIO's encoder (``RawAnswerOutlet``), and asks the scheduler for its lease without
/// a task when it can (``Scheduler/admitNow(_:)``).
///
/// Requests on one connection are answered in order: while one is taken here, later ones wait;
/// while the framework owes an answer, later ones go to the framework too.
final class DirectProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// The current request is the framework's.
        case passing
        /// Reading the body of a request that may be taken here.
        case reading(HTTPRequestHead, ProxyRoute, ByteBuffer, started: UInt64)
        /// Asking the scheduler for a lease.
        case acquiring(DirectExchange, trailers: HTTPHeaders?)
        case proxying(DirectExchange)
    }

    private let shared: DirectProxy
    private let outlet: RawAnswerOutlet
    /// What reads the requests before llhttp; cleared when either handler leaves the pipeline.
    var front: ClientRequestFront?
    private var context: ChannelHandlerContext?
    /// The backend connections of this connection's event loop, found once: finding them took
    /// a lock and a hash, twice a request.
    private var pool: UpstreamPool?
    private let recentSeries = RecentSeries()
    private var state = State.idle
    /// Parts that arrived while a request was being answered here (a pipelining client).
    private var later = CircularBuffer<HTTPServerRequestPart>()
    /// Requests handed to the framework whose answer it has not finished.
    private var frameworkOwes = 0
    /// How to frame the framework's answers it has not begun, in order.
    private var frameworkAsked = CircularBuffer<HTTP10Framing>()
    /// The framework's answer in progress ends with the connection.
    private var closeAfterFrameworkAnswer = false
    /// The server is shutting down: the connection closes after the answer in progress.
    private var quiescing = false
    /// Parts went to the framework since its last read-complete.
    private var handedOn = false
    /// A read asked for while a later request waited, to be passed on once it is taken.
    private var readHeld = false

    /// - Parameter outlet: where answers taken here are written, as bytes past the encoder.
    init(shared: DirectProxy, outlet: RawAnswerOutlet) {
        self.shared = shared
        self.outlet = outlet
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pool = shared.pools.pool(for: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        front = nil
    }

    // MARK: Requests

    /// Whether a request read by ``ClientRequestFront`` can be given now: none is in progress
    /// here and no part waits.
    var takesRequests: Bool {
        guard case .idle = state else { return false }
        return later.isEmpty
    }

    /// A whole request ``ClientRequestFront`` read, when ``takesRequests``.
    func take(_ head: ClientRequestHead, body: ByteBuffer, started: UInt64) {
        guard let context else { return }
        if let route = directRoute(.read(head)) {
            proxy(.read(head), route: route, body: body, trailers: nil, started: started, context: context)
        } else {
            handOn(.read(head), body, nil, context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .acquiring, .proxying: later.append(part)
        // Parts that waited go first; the read that drains them is on its way.
        default: if later.isEmpty { read(part, context: context) } else { later.append(part) }
        }
    }

    private func read(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)):
            if let route = directRoute(.decoded(head)) {
                state = .reading(head, route, ByteBuffer(), started: DispatchTime.now().uptimeNanoseconds)
            } else {
                handOn(.decoded(head), context: context)
            }
        case (.reading(let head, let route, var body, let started), .body(let chunk)):
            state = .idle  // so `body` is the buffer's only reference and grows in place
            if body.readableBytes == 0 {
                // Most bodies come in one read: the decoder's slice of it is kept, not copied.
                body = chunk
            } else {
                // Copies the first part out of its read once, into room for the declared length,
                // so a long chat is not copied again each time the buffer grows.
                body.reserveCapacity(Self.bodyCapacity(head))
                body.writeImmutableBuffer(chunk)
            }
            if body.readableBytes > shared.settings.maxBody {
                // The framework refuses it (413) and reads the rest itself.
                handOn(.decoded(head), context: context)
                pass(.body(body), context: context)
            } else {
                state = .reading(head, route, body, started: started)
            }
        case (.reading(let head, let route, let body, let started), .end(let trailers)):
            proxy(.decoded(head), route: route, body: body, trailers: trailers, started: started, context: context)
        case (.passing, .end):
            state = .idle
            pass(part, context: context)
        default:
            pass(part, context: context)
        }
    }

    /// Proxies a whole request for `route` here, or hands it on to the framework when its body
    /// names no model or its model is not ready.
    private func proxy(_ head: ClientHead, route: ProxyRoute, body: ByteBuffer, trailers: HTTPHeaders?, started: UInt64,
                       context: ChannelHandlerContext) {
        guard let model = try? route.model(in: body, contentType: head.multipartType, routing: shared.settings.routing) else {
            return handOn(head, body, trailers, context: context)
        }
        let exchange = DirectExchange(request: head, route: route, body: body, model: model, started: started, shared: shared,
                                      recentSeries: recentSeries, context: context, outlet: outlet) { [weak self] exchange in self?.answered(exchange, context: context) }
        let scheduler = shared.scheduler
        switch scheduler.admitNow(model) {
        case .admitted(let lease): begin(exchange, on: lease, trailers: trailers, context: context)
        case .refused: handOn(head, body, trailers, context: context)
        case .busy:
            state = .acquiring(exchange, trailers: trailers)
            let lease = context.eventLoop.makePromise(of: Lease?.self)
            lease.completeWithTask { await scheduler.acquireIfReady(model) }
            lease.futureResult.assumeIsolated().whenSuccess { lease in self.acquired(lease, for: exchange, context: context) }
        }
    }

    /// The route of a request the direct path may take: a `POST` to a proxied route, while the
    /// framework owes no answer on the connection, the server is not shutting down, and the
    /// token (when one is set) is there; `nil` for one the framework takes.
    private func directRoute(_ head: ClientHead) -> ProxyRoute? {
        guard frameworkOwes == 0, !quiescing, head.isPost, let route = head.withTarget(ProxyRoute.init(target:)), allowed(head)
        else { return nil }
        return route
    }

    /// The most room a body is given before its bytes come: a length that is declared but
    /// never sent must cost little, whatever the limit on bodies.
    static let bodyRoomUpFront = 1 << 20

    /// The room a body in parts is given, from Content-Length.
    private static func bodyCapacity(_ head: HTTPRequestHead) -> Int {
        guard let declared = head.headers.first(name: "content-length").flatMap({ Int($0) }), declared > 0 else { return 0 }
        return min(declared, bodyRoomUpFront)
    }

    /// Without the token the framework answers 401.
    private func allowed(_ head: ClientHead) -> Bool {
        guard case .token(let token) = shared.settings.auth else { return true }
        return BearerToken.allows(head.authorization, token: token)
    }

    /// The scheduler's answer, when it had to be asked in a task.
    private func acquired(_ lease: Lease?, for exchange: DirectExchange, context: ChannelHandlerContext) {
        guard case .acquiring(let current, let trailers) = state, current === exchange, !exchange.finished else {
            // The client went away meanwhile.
            lease?.releaseNow()
            return
        }
        guard let lease else {
            handOn(exchange.request, exchange.body, trailers, context: context)
            return readLater(context: context)
        }
        if !begin(exchange, on: lease, trailers: trailers, context: context) { readLater(context: context) }
    }

    /// Proxies the request on `lease`; false when its backend is not one the direct path serves,
    /// and the request went to the framework.
    @discardableResult
    private func begin(_ exchange: DirectExchange, on lease: Lease, trailers: HTTPHeaders?, context: ChannelHandlerContext) -> Bool {
        guard let pool, let target = pool.target(lease.endpoint) else {
            lease.releaseNow()
            handOn(exchange.request, exchange.body, trailers, context: context)
            return false
        }
        state = .proxying(exchange)
        exchange.start(lease, target: target, from: pool)
        return true
    }

    private func answered(_ exchange: DirectExchange, context: ChannelHandlerContext) {
        guard case .proxying(let current) = state, current === exchange else { return }
        state = .idle
        if quiescing || exchange.closesConnection || !exchange.request.isKeepAlive {
            // Closed once the answer has gone out: an empty write's promise completes only
            // after every write before it. (A promise on the last write of every answer, for
            // the few that end their connection, cost about 3 % of a request's instructions.)
            let written = context.eventLoop.makePromise(of: Void.self)
            outlet.write(ByteBuffer(), promise: written)
            outlet.flush()
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        // Runs after the answer's writes, so a pipelined request cannot overtake it. With no
        // part waiting and none handed on, there is nothing for it to do.
        guard !later.isEmpty || handedOn || front?.holdsBytes == true else { return releaseHeldRead(context: context) }
        context.eventLoop.assumeIsolated().execute { self.readLater(context: context) }
    }

    /// Reads the parts that waited, up to the next request taken here. What this hands on gets a
    /// read-complete too: the framework's inbound stream passes parts on only at one, and outside
    /// the channel's own read cycle nothing else sends it.
    private func readLater(context: ChannelHandlerContext) {
        loop: while let part = later.popFirst() {
            read(part, context: context)
            switch state {
            case .acquiring, .proxying: break loop
            case .idle, .passing, .reading: continue
            }
        }
        front?.resume()
        completeRead(context: context)
        releaseHeldRead(context: context)
    }

    // MARK: Reading no faster than answering

    /// Reads are not passed on while a request is answered here and the bytes of a later one
    /// wait: a client that pipelines would otherwise have every byte it sends read into memory
    /// while a long answer streams. The socket's buffers hold the rest, and TCP slows the client.
    func read(context: ChannelHandlerContext) {
        if holdsReads {
            readHeld = true
        } else {
            context.read()
        }
    }

    private var holdsReads: Bool {
        switch state {
        case .acquiring, .proxying: return !later.isEmpty || front?.holdsBytes == true
        case .idle, .passing, .reading: return false
        }
    }

    private func releaseHeldRead(context: ChannelHandlerContext) {
        guard readHeld, !holdsReads else { return }
        readHeld = false
        context.read()
    }

    // MARK: Handing on to the framework

    private func handOn(_ head: ClientHead, context: ChannelHandlerContext) {
        let head = head.decoded
        frameworkOwes += 1
        frameworkAsked.append(HTTP10Framing(head))
        state = .passing
        pass(.head(head), context: context)
        // The framework may not have seen the shutdown's notice; now that it owes an answer, it
        // closes the connection after that answer.
        if quiescing { context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    /// Passes a part on to the framework.
    private func pass(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        handedOn = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// Gives the framework a read-complete if it was handed parts since its last one: its
    /// inbound stream passes them on only at one. A request taken whole here sends none on:
    /// the two it sent (its read's, and one after its answer) cost about 5 % of its
    /// instructions, through every handler behind this one.
    private func completeRead(context: ChannelHandlerContext) {
        guard handedOn else { return }
        handedOn = false
        context.fireChannelReadComplete()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        completeRead(context: context)
    }

    /// Hands on a whole request that was read here.
    private func handOn(_ head: ClientHead, _ body: ByteBuffer, _ trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        handOn(head, context: context)
        if body.readableBytes > 0 { pass(.body(body), context: context) }
        pass(.end(trailers), context: context)
        state = .idle
    }

    /// The framework's answers; the direct path's own do not pass here.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code < 200:
            // HTTP/1.0 has no interim answers: a client of it must not get one.
            if frameworkAsked.first?.old == true { promise?.succeed(); return }
        case .head(var head):
            guard let asked = frameworkAsked.popFirst(), asked.old else { break }
            closeAfterFrameworkAnswer = asked.frame(&head)
            return context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            break
        case .end:
            frameworkOwes = max(0, frameworkOwes - 1)
            guard closeAfterFrameworkAnswer else { break }
            closeAfterFrameworkAnswer = false
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return context.write(data, promise: written)
        }
        context.write(data, promise: promise)
    }

    // MARK: The connection

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            switch state {
            case .reading, .acquiring, .proxying: return  // this handler closes when its answer is done
            case .idle, .passing: break
            }
        }
        if let event = event as? ChannelEvent, case .inputClosed = event { clientLeft() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientLeft()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state { exchange.clientWritable(context.channel.isWritable) }
        context.fireChannelWritabilityChanged()
    }

    private func clientLeft() {
        switch state {
        case .acquiring(let exchange, _), .proxying(let exchange):
            state = .idle
            exchange.abort()
        case .reading:
            state = .idle
        case .idle, .passing:
            break
        }
        later.removeAll()
    }
}
