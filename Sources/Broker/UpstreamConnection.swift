import Backends
import NIOCore
import NIOPosix
import Synchronization

/// A plain-HTTP backend as the direct path reaches it: host, port, and the path its endpoint
/// puts in front of every request path.
struct UpstreamTarget: Hashable, Sendable {
    let host: String
    let port: Int
    /// What a `Host` header says: the endpoint's authority as written.
    let authority: String
    let prefix: String

    /// Reads `http://host[:port][/prefix]`. Anything else (`https`, user info) is `nil`, and such
    /// a backend is left to the framework's client.
    init?(endpoint: String) {
        guard endpoint.hasPrefix("http://"), let (named, port) = HTTPBackend.hostAndPort(endpoint) else { return nil }
        let authority = endpoint.dropFirst(7).prefix { $0 != "/" }
        let bracketed = named.hasPrefix("[")
        guard !authority.contains("@"), !bracketed || named.hasSuffix("]"), (1...65535).contains(port) else { return nil }
        // An IPv6 address is connected to without its brackets.
        let host = bracketed ? String(named.dropFirst().dropLast()) : named
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
        self.authority = String(authority)
        self.prefix = String(endpoint.dropFirst(7 + authority.count))
    }

    /// The port alone: each request looks its target up a few times, and hashing the strings
    /// cost more than the lookups. Targets that share a port are still told apart by `==`.
    func hash(into hasher: inout Hasher) {
        hasher.combine(port)
    }
}

/// Who hears one exchange's answer from an ``UpstreamConnection``, on its event loop.
protocol UpstreamReceiver: AnyObject {
    func upstreamHead(_ head: UpstreamResponseHead)
    func upstreamBody(_ body: ByteBuffer)
    func upstreamEnd()
    /// The parts of one read have been heard: what was passed on can be flushed together.
    func upstreamReadComplete()
    /// The connection failed or closed before the answer ended.
    func upstreamFailed(_ error: any Error)
}

/// The backend closed the connection before its answer ended.
struct UpstreamClosed: Error, CustomStringConvertible {
    var description: String { "the connection closed before the answer ended" }
}

/// One keep-alive HTTP/1.1 connection to a backend, carrying one exchange at a time. Like every
/// handler it lives on its channel's event loop, which is the loop of the client connections
/// that use it.
///
/// It is the only handler on its channel: requests go out as the bytes ``DirectWire`` wrote,
/// and answers are read by ``UpstreamResponseParser``.
final class UpstreamConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let target: UpstreamTarget
    /// Whether it carried an exchange before: such a connection may have been closed by the
    /// backend just as it was picked, and a request that fails on it before any answer is worth
    /// one more try on a new connection.
    private(set) var reused = false
    private var context: ChannelHandlerContext?
    private var receiver: (any UpstreamReceiver)?
    private var parser = UpstreamResponseParser()
    /// Bytes of the answer read but not yet parsed: a head, chunk-size line or trailers that
    /// has not all arrived.
    private var unread: ByteBuffer?
    private var keepAlive = true
    private var failure: (any Error)?
    fileprivate weak var pool: UpstreamPool?
    /// Since when it waits in the pool for an exchange.
    fileprivate var idleSince: NIODeadline?

    init(target: UpstreamTarget) {
        self.target = target
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    var isActive: Bool { context?.channel.isActive ?? false }

    /// Sends a request (`head`, then `body` if it is not in `head`'s buffer already);
    /// `receiver` hears the answer.
    func send(_ head: ByteBuffer, body: ByteBuffer?, to receiver: any UpstreamReceiver) {
        guard let context, context.channel.isActive else {
            receiver.upstreamFailed(ChannelError.ioOnClosedChannel)
            return
        }
        self.receiver = receiver
        parser.expectAnswer()
        unread = nil
        keepAlive = true
        context.write(wrapOutboundOut(head), promise: nil)
        if let body, body.readableBytes > 0 { context.write(wrapOutboundOut(body), promise: nil) }
        context.flush()
    }

    /// Reads on only while the client can take what is read (a slow reader of a long stream).
    func setReading(_ on: Bool) {
        context?.channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in }
    }

    /// Ends the exchange without telling the receiver (the client went away), closing the
    /// connection, which is how a backend learns to stop generating.
    func abort() {
        receiver = nil
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var kept = unread {
            unread = nil
            kept.writeBuffer(&input)
            input = kept
        }
        guard receiver != nil else {
            // Nobody asked: a backend that talks out of turn is not trusted with another request.
            return context.close(promise: nil)
        }
        do {
            // The receiver may end the exchange at any event (its client went away).
            while let receiver, let event = try parser.next(&input) {
                switch event {
                case .head(let head):
                    keepAlive = head.keepAlive
                    receiver.upstreamHead(head)
                case .body(let body):
                    receiver.upstreamBody(body)
                case .end:
                    self.receiver = nil
                    if keepAlive, input.readableBytes == 0, let pool {
                        reused = true
                        pool.giveBack(self)
                    } else {
                        context.close(promise: nil)
                    }
                    return receiver.upstreamEnd()
                }
            }
            if input.readableBytes > 0 { unread = input }
        } catch {
            failure = failure ?? error
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        receiver?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure = failure ?? error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool?.remove(self)
        if let receiver {
            self.receiver = nil
            // An answer whose end is the connection's ends here; any other is cut short.
            if failure == nil, case .end? = try? parser.inputClosed() {
                receiver.upstreamEnd()
            } else {
                receiver.upstreamFailed(failure ?? UpstreamClosed())
            }
        }
        context.fireChannelInactive()
    }
}

/// The idle keep-alive connections of one event loop, by backend. Used only on that loop.
final class UpstreamPool {
    private let loop: any EventLoop
    private var idle: [UpstreamTarget: [UpstreamConnection]] = [:]
    /// Endpoints read so far; a backend keeps its endpoint while it is loaded.
    private var targets: [String: UpstreamTarget?] = [:]
    /// The endpoint asked for last. Requests in a row nearly always go to the same backend, and
    /// its endpoint is the same string each time, which compares equal without reading it;
    /// finding it among `targets` hashed it, about 400 instructions a request.
    private var lastEndpoint: String?
    private var lastTarget: UpstreamTarget?

    /// Idle connections kept per backend; more are closed when their exchange ends.
    static let maxIdle = 64
    /// How long an unused connection is kept open (up to a quarter more: see ``sweep``).
    private let idleTimeout: TimeAmount
    /// The one timer that closes connections idle too long, while any are idle. One timer per
    /// request, set when a connection came back and cancelled when it was taken again, cost
    /// more than the rest of the pool's work.
    private var sweep: Scheduled<Void>?

    init(loop: any EventLoop, idleTimeout: TimeAmount) {
        self.loop = loop
        self.idleTimeout = idleTimeout
    }

    /// The target `endpoint` names, or `nil` when the direct path does not serve it.
    func target(_ endpoint: String) -> UpstreamTarget? {
        if endpoint == lastEndpoint { return lastTarget }
        let target: UpstreamTarget?
        if let known = targets[endpoint] {
            target = known
        } else {
            target = UpstreamTarget(endpoint: endpoint)
            targets[endpoint] = .some(target)
        }
        lastEndpoint = endpoint
        lastTarget = target
        return target
    }

    /// Calls `body` on the loop with an idle connection to `target`, or a new one.
    func withConnection(to target: UpstreamTarget, _ body: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        while let connection = idle[target]?.popLast() {
            connection.idleSince = nil
            if connection.isActive {
                body(.success(connection))
                return
            }
        }
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(target: target))
                }
            }
            .connect(host: target.host, port: target.port)
            .assumeIsolated()
            .whenComplete { result in
                body(result.flatMap { channel in
                    Result {
                        let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                        connection.pool = self
                        return connection
                    }
                })
            }
    }

    fileprivate func giveBack(_ connection: UpstreamConnection) {
        // One lookup of the target's list, not one to count it and another to append.
        let kept = Self.keep(connection, in: &idle[connection.target, default: []])
        guard kept else { return connection.abort() }
        scheduleSweep()
    }

    private static func keep(_ connection: UpstreamConnection, in list: inout [UpstreamConnection]) -> Bool {
        guard list.count < maxIdle else { return false }
        connection.idleSince = .now()
        list.append(connection)
        return true
    }

    private func scheduleSweep() {
        guard sweep == nil else { return }
        sweep = loop.assumeIsolated().scheduleTask(in: .nanoseconds(idleTimeout.nanoseconds / 4)) { [weak self] in self?.closeExpired() }
    }

    /// Closes what has been idle for `idleTimeout`; the most recently used are taken first, so
    /// the ones that expire are those a quieter load no longer needs.
    private func closeExpired() {
        sweep = nil
        let cutoff = NIODeadline.now() - idleTimeout
        // Over a copy: a connection that closes removes itself from `idle`.
        for connection in idle.values.joined() where connection.idleSince.map({ $0 <= cutoff }) ?? false {
            connection.abort()
        }
        if idle.values.contains(where: { !$0.isEmpty }) { scheduleSweep() }
    }

    fileprivate func remove(_ connection: UpstreamConnection) {
        idle[connection.target]?.removeAll { $0 === connection }
    }
}

/// One ``UpstreamPool`` per event loop, made on first use.
final class UpstreamPools: Sendable {
    private let pools = Mutex<[ObjectIdentifier: NIOLoopBound<UpstreamPool>]>([:])
    private let idleTimeout: TimeAmount

    /// `idleTimeout`: how long an unused connection to a backend is kept open.
    init(idleTimeout: TimeAmount = .seconds(60)) {
        self.idleTimeout = idleTimeout
    }

    /// The pool of `loop`; call it on that loop.
    func pool(for loop: any EventLoop) -> UpstreamPool {
        pools.withLock { pools in
            if let pool = pools[ObjectIdentifier(loop)] { return pool }
            let pool = NIOLoopBound(UpstreamPool(loop: loop, idleTimeout: idleTimeout), eventLoop: loop)
            pools[ObjectIdentifier(loop)] = pool
            return pool
        }.value
    }
}
