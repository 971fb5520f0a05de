import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import VRAMConfig
import VRAMPolicy

/// The HTTP facade: seed 003's `/v1/llm|tts|stt|image`, the OpenAI-compatible routes, the
/// pass-through, admin routes and `/healthz`. Each request resolves a model, takes a lease
/// from the scheduler and is proxied to the backend.
struct Routes: Sendable {
    let scheduler: Scheduler
    let proxy: Proxy
    let live: LiveSettings
    /// Applies the config file again; the keys that changed but need a restart.
    let reload: @Sendable () async throws -> [String]

    func add(to router: Router<BrokerRequestContext>) {
        router.get("/healthz") { _, _ in Self.json(["status": "ok"]) }
        router.get("/v1/models") { _, _ in try await self.listModels() }
        addObservability(to: router)
        for route in ProxyRoute.openAIPaths.map(ProxyRoute.openAI) + ProxyRoute.facadeKinds.map(ProxyRoute.facade) {
            router.post(RouterPath(route.path)) { request, context in
                try await self.routeByBody(route, request: request, context: context)
            }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("/upstream/:model/**", method: method) { request, context in
                try await self.upstream(request, context: context)
            }
        }
        if let audio = live.current.audioProxy {
            router.get(RouterPath(audio.path + "/**")) { request, context in
                let scheduler = self.scheduler, priority = Self.priority(request)
                let lease = try await context.untilClientHangsUp { try await scheduler.acquire(audio.model.rawValue, priority: priority) }
                return try await self.proxy.forward(lease, method: .get, path: Self.pathAndQuery(request), headers: request.headers,
                                                    body: .buffer(ByteBuffer()))
            }
        }
        router.post("/v1/models/:model/load") { _, context in
            let model = try context.parameters.require("model")
            try await self.scheduler.load(model)
            return Self.json(["model": model, "state": "ready"])
        }
        router.post("/v1/models/:model/unload") { _, context in
            let model = try context.parameters.require("model")
            try await self.scheduler.unload(model)
            return Self.json(["model": model, "state": "unloaded"])
        }
        router.post("/v1/admin/reload") { _, _ in
            let needsRestart = try await self.reload()
            return Self.json(["status": "reloaded", "needs_restart": needsRestart])
        }
    }

    // MARK: Handlers

    private func routeByBody(_ route: ProxyRoute, request: Request, context: BrokerRequestContext) async throws -> Response {
        let body = try await collect(request)
        let model = try route.model(in: body, contentType: request.headers[.contentType], routing: live.current.routing)
        if case .openAI(let path) = route,
           let streamed = try await loadingFeedback(model: model, request: request, body: body, backendPath: path) { return streamed }
        let scheduler = self.scheduler, priority = Self.priority(request)
        let lease = try await context.untilClientHangsUp { try await scheduler.acquire(model, priority: priority) }
        return try await proxy.forward(lease, method: .post, path: route.backendPath(in: lease.config.paths) + Self.query(request),
                                       headers: request.headers, body: .buffer(body))
    }

    private func upstream(_ request: Request, context: BrokerRequestContext) async throws -> Response {
        let model = try context.parameters.require("model")
        let rest = context.parameters.getCatchAll().joined(separator: "/")
        let scheduler = self.scheduler, priority = Self.priority(request)
        let lease = try await context.untilClientHangsUp { try await scheduler.acquire(model, priority: priority) }
        // The model is in the path, so the body can stream through without being read here.
        let limited = LimitedBody(base: request.body, limit: live.current.maxBody)
        return try await proxy.forward(lease, method: request.method, path: "/" + rest + Self.query(request),
                                       headers: request.headers, body: .stream(RequestBody(asyncSequence: limited)))
    }

    private func listModels() async throws -> Response {
        let models = await scheduler.models()
        let data = models.map { model -> [String: Any] in
            var entry: [String: Any] = ["id": model.id, "object": "model", "owned_by": "vramd", "created": 0,
                                        "kind": model.kind, "state": model.state.rawValue, "aliases": model.aliases,
                                        // For routers that send a request where its model is loaded already.
                                        "resident": model.state == .ready]
            entry["device"] = model.device ?? NSNull()
            return entry
        }
        return Self.json(["object": "list", "data": data])
    }

    // MARK: Helpers

    private func collect(_ request: Request) async throws -> ByteBuffer {
        let limit = live.current.maxBody
        // Refused before it is read: a client that sent `Expect: 100-continue` is still waiting.
        if let announced = request.headers[.contentLength].flatMap(Int64.init), announced > limit {
            throw BrokerError.payloadTooLarge(limit: limit)
        }
        do {
            return try await request.body.collect(upTo: Int(limit))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw BrokerError.payloadTooLarge(limit: limit)
        }
    }

    /// `X-Priority: 0…4` lowers (never raises) a request's priority below its model's.
    static func priority(_ request: Request) -> Int? { ProxyRoute.priority(request.headers) }

    static func query(_ request: Request) -> String {
        request.uri.query.map { "?\($0)" } ?? ""
    }

    static func pathAndQuery(_ request: Request) -> String { request.uri.path + query(request) }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A request body that fails once more than `limit` bytes have passed (`max_body` on streams).
struct LimitedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let limit: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int64
        var seen: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            seen += Int64(buffer.readableBytes)
            if seen > limit { throw BrokerError.payloadTooLarge(limit: limit) }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), limit: limit) }
}
