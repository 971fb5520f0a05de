import AsyncHTTPClient
import NIOCore
import NIOPosix

extension HTTPClient {
    /// A client requests are proxied with, whose connections all live on `eventLoop`. The shared
    /// client opens at most 8 connections to a host and queues the rest out of sight, so a model
    /// with `max_concurrency` above 8 would never get more than 8 requests at once; vramd's own
    /// queue is the only limit here. It also passes redirects back to the client instead of
    /// following them.
    static func proxy(on eventLoop: any EventLoop) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 4096
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        // vramd installs no tracer; without this the client still wraps every request in a
        // no-op span, which showed up in the proxy's profile.
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .shared(eventLoop), configuration: configuration)
    }

    /// The client vramd talks to backends with (load, unload, health, hooks).
    ///
    /// Backends are local servers: a refused connection means the server is gone, and saying so
    /// at once is right. The shared client retries a refused connection with backoff until the
    /// request's deadline instead, so a request to a dead backend took 10 s to answer 502, and
    /// unloading a dead `http` backend at shutdown held vramd for a minute.
    static let backends: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}

/// One proxy client per event loop of NIO's shared group.
///
/// A request is handled on its connection's event loop (see `EventLoopExecutor` in the `vramd`
/// target). A single client puts its connections on any loop, and a request whose upstream
/// connection sits on another loop crosses threads twice; picking the client of the loop the
/// request runs on keeps the whole exchange on one thread.
struct ProxyClients: Sendable {
    private let clients: [ObjectIdentifier: HTTPClient]
    private let fallback: HTTPClient

    static let shared = ProxyClients(group: MultiThreadedEventLoopGroup.singleton)

    init(group: MultiThreadedEventLoopGroup) {
        var clients: [ObjectIdentifier: HTTPClient] = [:]
        for loop in group.makeIterator() {
            clients[ObjectIdentifier(loop)] = HTTPClient.proxy(on: loop)
        }
        self.clients = clients
        fallback = clients.values.first ?? HTTPClient.proxy(on: group.next())
    }

    /// The client of the event loop the caller runs on, or any when it runs on none.
    var current: HTTPClient {
        MultiThreadedEventLoopGroup.currentEventLoop.flatMap { clients[ObjectIdentifier($0)] } ?? fallback
    }
}
