import Dispatch
import HTTPTypes
import Metrics
import NIOCore
import NIOHTTP1

/// One request on the direct path, from the lease to the last byte of its answer: it sends the
/// request to the backend over a pooled connection and writes the answer to the client as
/// ``Proxy`` would (the same headers passed on, whole JSON answers in one write, streams as they
/// come, the same structured errors), all on the client connection's event loop.
final class DirectExchange: UpstreamReceiver {
    let request: HTTPRequestHead
    let route: ProxyRoute
    let body: ByteBuffer
    let model: String
    /// When the request's head arrived, for its duration in the request metrics.
    let started: UInt64

    private let shared: DirectProxy
    private let context: ChannelHandlerContext
    private let done: (DirectExchange) -> Void
    private var lease: Lease?
    private var target: UpstreamTarget?
    private var connection: UpstreamConnection?
    private var tries = 0
    private var response: HTTPResponseHead?
    /// The answer so far, when it is read whole before it is passed on.
    private var whole: ByteBuffer?
    private var isEventStream = false
    private var active: Meter?
    /// Parts of a stream written but not yet flushed: they go out together at the end of the
    /// backend's read, one `writev` for the events that arrived at once instead of one each.
    private var unflushed = false
    private(set) var finished = false
    /// The answer ends with the connection (see ``HTTP10Framing``).
    private(set) var closesConnection = false
    /// The last write of the answer, once it is made: a connection is closed only after it.
    private(set) var lastWrite: EventLoopFuture<Void>?

    init(request: HTTPRequestHead, route: ProxyRoute, body: ByteBuffer, model: String, started: UInt64, shared: DirectProxy,
         context: ChannelHandlerContext, done: @escaping (DirectExchange) -> Void) {
        self.request = request
        self.route = route
        self.body = body
        self.model = model
        self.started = started
        self.shared = shared
        self.context = context
        self.done = done
    }

    /// Sends the request to the backend `lease` points at.
    func start(_ lease: Lease, target: UpstreamTarget) {
        self.lease = lease
        self.target = target
        active = shared.metrics.active(.post)
        active?.increment()
        send()
    }

    private func send() {
        guard let lease, let target else { return }
        tries += 1
        var headers = Proxy.upstreamHeaders(request.headers)
        headers.add(name: "Host", value: target.authority)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        let head = HTTPRequestHead(version: .http1_1, method: request.method,
                                   uri: target.prefix + route.backendPath(for: lease.config) + query, headers: headers)
        shared.pools.pool(for: context.eventLoop).withConnection(to: target) { result in
            switch result {
            case .success(let connection):
                guard !self.finished else { return connection.abort() }
                self.connection = connection
                connection.send(head, body: self.body, to: self)
            case .failure(let error):
                guard !self.finished else { return }
                self.answer(.unreachable(lease, error))
            }
        }
    }

    private var query: String {
        guard let mark = request.uri.firstIndex(of: "?") else { return "" }
        return String(request.uri[mark...])
    }

    // MARK: The answer

    func upstreamHead(_ head: HTTPResponseHead) {
        let response = responseHead(head.status, Proxy.answerHeaders(head.headers))
        self.response = response
        isEventStream = Proxy.isEventStream(head.headers)
        if let length = Proxy.wholeLength(head.headers) {
            whole = context.channel.allocator.buffer(capacity: length)
        } else {
            context.write(NIOAny(HTTPServerResponsePart.head(response)), promise: nil)
            unflushed = true
        }
    }

    func upstreamBody(_ body: ByteBuffer) {
        if whole != nil {
            whole!.writeImmutableBuffer(body)
        } else {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
            unflushed = true
        }
    }

    func upstreamReadComplete() {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    func upstreamEnd() {
        connection = nil
        unflushed = false
        releaseLease()
        if let response, let whole {
            context.write(NIOAny(HTTPServerResponsePart.head(response)), promise: nil)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(whole))), promise: nil)
        }
        lastWrite = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        finish(status: response?.status ?? .ok, failed: false)
    }

    func upstreamFailed(_ error: any Error) {
        let reused = connection?.reused ?? false
        connection = nil
        guard let lease, !finished else { return }
        if response == nil {
            // A kept-alive connection the backend closed as it was picked: nothing was answered,
            // so the request goes once more on a new connection. nginx and Go's client resend a
            // POST only when it could not be written at all; it is resent here whenever no answer
            // began, because a backend closing an idle connection just as it is picked is far
            // likelier than one that read a request and closed without a word.
            if reused && tries == 1 { return send() }
            return answer(.unreachable(lease, error))
        }
        if whole != nil { return answer(.brokeOff(model, error)) }
        releaseLease()
        if isEventStream {
            // The status is sent; the stream can still say why it ends.
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ServerSentEvents.error(.brokeOff(model, error))))), promise: nil)
            lastWrite = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        } else {
            // Any other body can only be cut short, which the client sees as a broken transfer;
            // what arrived before the break still goes out first.
            context.flush()
            context.close(promise: nil)
        }
        finish(status: response?.status ?? .badGateway, failed: false)
    }

    /// Answers with one of vramd's own errors instead of the backend's answer.
    private func answer(_ error: BrokerError) {
        releaseLease()
        let body = ByteBuffer(bytes: error.body)
        var headers = HTTPHeaders(error.headers.map { ($0.name.rawName, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        let status = HTTPResponseStatus(statusCode: error.statusCode)
        context.write(NIOAny(HTTPServerResponsePart.head(responseHead(status, headers))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        lastWrite = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        finish(status: status, failed: true)
    }

    /// With the `Date` and `Server` the framework puts on every answer it writes, framed for
    /// the request's version.
    private func responseHead(_ status: HTTPResponseStatus, _ headers: HTTPHeaders) -> HTTPResponseHead {
        var head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        head.headers.replaceOrAdd(name: "Date", value: HTTPDate.now)
        head.headers.replaceOrAdd(name: "Server", value: shared.serverName)
        closesConnection = HTTP10Framing.frame(&head, for: request)
        return head
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
        finish(status: response?.status ?? .internalServerError, failed: response == nil)
    }

    private func releaseLease() {
        guard let lease else { return }
        self.lease = nil
        lease.releaseNow()
    }

    private func finish(status: HTTPResponseStatus, failed: Bool) {
        guard !finished else { return }
        finished = true
        if let active {
            let series = shared.metrics.series(route: route.path, method: .post, status: HTTPResponse.Status(code: Int(status.code)))
            if failed { series.errors.increment() }
            series.record(since: started, active: active)
        }
        done(self)
    }
}
