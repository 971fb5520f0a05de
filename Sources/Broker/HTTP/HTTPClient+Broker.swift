import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// The client requests are proxied with. The shared client opens at most 8 connections to a
    /// host and queues the rest out of sight, so a model with `max_concurrency` above 8 would
    /// never get more than 8 requests at once; vramd's own queue is the only limit here. It also
    /// passes redirects back to the client instead of following them.
    static let proxy: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 4096
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

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
