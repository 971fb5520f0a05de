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
    let settings: BrokerSettings
    let reload: @Sendable () async throws -> Void

    /// The OpenAI routes, routed by the body's `model` field and passed on at the same path.
    static let openAIRoutes = [
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/audio/speech",
        "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/images/generations", "/v1/rerank",
    ]

    /// Where the facade's kinds go on a backend unless its `paths` say otherwise.
    static let facadeDefaults: [ModelKind: String] = [
        .llm: "/v1/chat/completions", .tts: "/v1/audio/speech", .stt: "/v1/audio/transcriptions", .image: "/v1/images/generations",
    ]

    func add(to router: Router<BrokerRequestContext>) {
        router.get("/healthz") { _, _ in Self.json(["status": "ok"]) }
        router.get("/v1/models") { _, _ in try await self.listModels() }
        addObservability(to: router)
        for path in Self.openAIRoutes {
            router.post(RouterPath(path)) { request, context in
                try await self.routeByBody(request, context: context, backendPath: path)
            }
        }
        for kind in [ModelKind.llm, .tts, .stt, .image] {
            router.post(RouterPath("/v1/\(kind.rawValue)")) { request, context in
                try await self.facade(kind, request: request, context: context)
            }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("/upstream/:model/**", method: method) { request, context in
                try await self.upstream(request, context: context)
            }
        }
        if let audio = settings.audioProxy {
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
            try await self.reload()
            return Self.json(["status": "reloaded"])
        }
    }

    // MARK: Handlers

    private func routeByBody(_ request: Request, context: BrokerRequestContext, backendPath: String) async throws -> Response {
        let body = try await collect(request)
        guard let model = try modelField(body, request: request) else {
            throw BrokerError.badRequest("the body names no model (a \"model\" field)")
        }
        if let streamed = try await loadingFeedback(model: model, request: request, body: body, backendPath: backendPath) { return streamed }
        let scheduler = self.scheduler, priority = Self.priority(request)
        let lease = try await context.untilClientHangsUp { try await scheduler.acquire(model, priority: priority) }
        let path = lease.config.paths[String(backendPath.dropFirst(4))] ?? backendPath
        return try await proxy.forward(lease, method: .post, path: path + Self.query(request), headers: request.headers, body: .buffer(body))
    }

    private func facade(_ kind: ModelKind, request: Request, context: BrokerRequestContext) async throws -> Response {
        let body = try await collect(request)
        guard let model = try modelField(body, request: request) ?? settings.routing[kind]?.rawValue else {
            throw BrokerError.badRequest("no model in the body and no routing.\(kind.rawValue) in the config")
        }
        let scheduler = self.scheduler, priority = Self.priority(request)
        let lease = try await context.untilClientHangsUp { try await scheduler.acquire(model, priority: priority) }
        let path = lease.config.paths[kind.rawValue] ?? Self.facadeDefaults[kind] ?? "/"
        return try await proxy.forward(lease, method: .post, path: path + Self.query(request), headers: request.headers, body: .buffer(body))
    }

    private func upstream(_ request: Request, context: BrokerRequestContext) async throws -> Response {
        let model = try context.parameters.require("model")
        let rest = context.parameters.getCatchAll().joined(separator: "/")
        let scheduler = self.scheduler, priority = Self.priority(request)
        let lease = try await context.untilClientHangsUp { try await scheduler.acquire(model, priority: priority) }
        // The model is in the path, so the body can stream through without being read here.
        let limited = LimitedBody(base: request.body, limit: settings.maxBody)
        return try await proxy.forward(lease, method: request.method, path: "/" + rest + Self.query(request),
                                       headers: request.headers, body: .stream(RequestBody(asyncSequence: limited)))
    }

    private func listModels() async throws -> Response {
        let models = await scheduler.models()
        let data = models.map { model -> [String: Any] in
            var entry: [String: Any] = ["id": model.id, "object": "model", "owned_by": "vramd", "created": 0,
                                        "kind": model.kind, "state": model.state.rawValue, "aliases": model.aliases]
            entry["device"] = model.device ?? NSNull()
            return entry
        }
        return Self.json(["object": "list", "data": data])
    }

    // MARK: Helpers

    private func collect(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: Int(settings.maxBody))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw BrokerError.payloadTooLarge(limit: settings.maxBody)
        }
    }

    private func modelField(_ body: ByteBuffer, request: Request) throws -> String? {
        do {
            return try RequestModel.find(in: Data(body.readableBytesView), contentType: request.headers[.contentType])
        } catch RequestModel.Failure.notJSON {
            throw BrokerError.badRequest("the body is not valid JSON")
        } catch RequestModel.Failure.notAnObject {
            throw BrokerError.badRequest("the body must be a JSON object")
        } catch {
            throw BrokerError.badRequest("\"model\" must be a string")
        }
    }

    /// `X-Priority: 0…4` lowers (never raises) a request's priority below its model's.
    static func priority(_ request: Request) -> Int? {
        guard let name = HTTPField.Name("X-Priority"), let text = request.headers[name] else { return nil }
        return Int(text).map { min(max($0, 0), 4) }
    }

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
