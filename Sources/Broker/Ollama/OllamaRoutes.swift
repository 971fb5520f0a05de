import AsyncHTTPClient
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTP1
import VRAMConfig
import VRAMPolicy

/// Ollama's API under `/api/`, so clients written for Ollama (its Python and JavaScript
/// libraries, Open WebUI, editor plug-ins) use vramd unchanged. Generations and embeddings are
/// translated to the backends' OpenAI routes and queue, evict and load as those do; the lists are
/// answered from vramd's own state and the models' GGUF headers. Errors are Ollama's
/// `{"error": "…"}`.
struct OllamaRoutes: Sendable {
    let scheduler: Scheduler
    /// A path written in the config, made absolute against the config's folder.
    let resolvePath: @Sendable (String) -> String
    let client = HTTPClient.proxy

    /// The Ollama version clients are told: the API this translation follows.
    static let version = "0.12.0"

    func add(to router: Router<BrokerRequestContext>) {
        router.post("/api/chat") { request, context in try await answer { try await generate(request, context, chat: true) } }
        router.post("/api/generate") { request, context in try await answer { try await generate(request, context, chat: false) } }
        router.post("/api/embed") { request, context in try await answer { try await embed(request, context, legacy: false) } }
        router.post("/api/embeddings") { request, context in try await answer { try await embed(request, context, legacy: true) } }
        router.get("/api/tags") { _, _ in try await answer { try await tags() } }
        router.post("/api/show") { request, _ in try await answer { try await show(request) } }
        router.get("/api/ps") { _, _ in try await answer { try await running() } }
        router.get("/api/version") { _, _ in Self.json(["version": Self.version]) }
        router.head("/") { _, _ in Response(status: .ok) }
        for route in ["/api/pull", "/api/push", "/api/create", "/api/copy", "/api/blobs/:digest"] {
            router.post(RouterPath(route)) { _, _ in Self.unsupported(route) }
        }
        router.delete("/api/delete") { _, _ in Self.unsupported("/api/delete") }
    }

    // MARK: Generations

    private func generate(_ request: Request, _ context: BrokerRequestContext, chat: Bool) async throws -> Response {
        let started = ContinuousClock.now
        let body = try await Self.body(request)
        let name = try Self.modelName(body)
        let model = try await scheduler.modelConfig(name)
        let info = OllamaModelInfo.of(model, resolve: resolvePath)
        if let keepAlive = try OllamaTranslation.keepAlive(body["keep_alive"]) { try await scheduler.setKeepAlive(name, keepAlive) }
        let prompt = body["prompt"] as? String ?? ""
        if !chat && prompt.isEmpty && (body["images"] as? [Any])?.isEmpty ?? true {
            return try await loadOrUnload(name, body)
        }
        if chat && (body["messages"] as? [Any] ?? []).isEmpty {
            return try await loadOrUnload(name, body)
        }
        let stream = body["stream"] as? Bool ?? true
        var upstream: [String: Any] = ["model": name, "stream": stream]
        if stream { upstream["stream_options"] = ["include_usage": true] }
        try OllamaTranslation.apply(options: body["options"] as? [String: Any], to: &upstream, model: name,
                                    context: Self.configuredContext(model) ?? info.contextLength)
        switch body["format"] {
        case let format as String where format == "json": upstream["response_format"] = ["type": "json_object"]
        case let schema as [String: Any]: upstream["response_format"] = ["type": "json_schema", "json_schema": ["name": "format", "schema": schema]]
        default: break
        }
        let path: String
        if chat {
            path = "/v1/chat/completions"
            upstream["messages"] = (body["messages"] as? [[String: Any]] ?? []).map(OllamaTranslation.openAIMessage)
            if let tools = body["tools"] { upstream["tools"] = tools }
        } else if body["raw"] as? Bool == true || info.template == nil {
            // No chat template to apply (a base model, or `raw`): the prompt is continued as it is.
            path = "/v1/completions"
            upstream["prompt"] = [body["system"] as? String, prompt].compactMap { $0 }.joined(separator: "\n\n")
            if let suffix = body["suffix"] { upstream["suffix"] = suffix }
        } else {
            path = "/v1/chat/completions"
            var messages: [[String: Any]] = []
            if let system = body["system"] as? String { messages.append(["role": "system", "content": system]) }
            messages.append(OllamaTranslation.openAIMessage(["role": "user", "content": prompt, "images": body["images"] ?? []]))
            upstream["messages"] = messages
        }
        let (lease, response, waited) = try await exchange(name, path: path, body: upstream, request: request, context: context)
        let shape = Shape(model: name, chat: chat)
        if !stream || response.status.code >= 400 {
            let answer = try await collect(response, lease: lease)
            var final = OllamaTranslation.Final()
            final.read(answer)
            var object = shape.object(text: OllamaTranslation.text(of: answer))
            object.merge(final.fields(total: started.duration(to: .now), load: waited)) { $1 }
            return Self.json(object)
        }
        let upstreamBody = response.body
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
            var final = OllamaTranslation.Final()
            var buffer = ""
            do {
                for try await chunk in upstreamBody {
                    buffer += String(buffer: chunk)
                    for event in OllamaTranslation.events(&buffer) {
                        final.read(event)
                        let text = OllamaTranslation.text(of: event)
                        guard !text.isEmpty else { continue }
                        var object = shape.object(text: text)
                        object["done"] = false
                        try await writer.write(ByteBuffer(string: OllamaTranslation.line(object)))
                    }
                }
                var last = shape.object(text: "")
                last.merge(final.fields(total: started.duration(to: .now), load: waited)) { $1 }
                try await writer.write(ByteBuffer(string: OllamaTranslation.line(last)))
                try await writer.finish(nil)
            } catch {
                await lease.release()
                if error is CancellationError { throw error }
                // The status is sent already: the stream ends with an error line, as Ollama's does.
                try? await writer.write(ByteBuffer(string: OllamaTranslation.line(["error": "\(BrokerError.brokeOff(name, error).message)"])))
                try? await writer.finish(nil)
                return
            }
            await lease.release()
        })
    }

    /// What an answer object of `/api/chat` or `/api/generate` looks like.
    struct Shape {
        let model: String
        let chat: Bool

        func object(text: String) -> [String: Any] {
            var object: [String: Any] = ["model": model, "created_at": OllamaTranslation.timestamp()]
            if chat { object["message"] = ["role": "assistant", "content": text] } else { object["response"] = text }
            return object
        }
    }

    /// A generation with nothing to generate loads the model, or with `keep_alive: 0` unloads it.
    private func loadOrUnload(_ name: String, _ body: [String: Any]) async throws -> Response {
        let unload = (try OllamaTranslation.keepAlive(body["keep_alive"])) == .duration(.zero)
        if unload { try await scheduler.unload(name) } else { try await scheduler.load(name, reason: .request) }
        let shape = Shape(model: name, chat: body["messages"] != nil)
        var object = shape.object(text: "")
        object["done"] = true
        object["done_reason"] = unload ? "unload" : "load"
        return Self.json(object)
    }

    // MARK: Embeddings

    private func embed(_ request: Request, _ context: BrokerRequestContext, legacy: Bool) async throws -> Response {
        let started = ContinuousClock.now
        let body = try await Self.body(request)
        let name = try Self.modelName(body)
        let model = try await scheduler.modelConfig(name)
        guard model.kind == .embed else {
            throw BrokerError.badRequest("'\(name)' is a model of kind \(model.kind.rawValue), not embed", model: name)
        }
        if let keepAlive = try OllamaTranslation.keepAlive(body["keep_alive"]) { try await scheduler.setKeepAlive(name, keepAlive) }
        let input: Any = legacy ? (body["prompt"] as? String ?? "") : (body["input"] ?? "")
        var upstream: [String: Any] = ["model": name, "input": input]
        if let options = body["options"] as? [String: Any], let dimensions = options["dimensions"] { upstream["dimensions"] = dimensions }
        let (lease, response, waited) = try await exchange(name, path: "/v1/embeddings", body: upstream, request: request, context: context)
        let answer = try await collect(response, lease: lease)
        let vectors = (answer["data"] as? [[String: Any]] ?? []).sorted { ($0["index"] as? Int ?? 0) < ($1["index"] as? Int ?? 0) }
            .map { $0["embedding"] ?? [] }
        if legacy { return Self.json(["embedding": vectors.first ?? []]) }
        let tokens = ((answer["usage"] as? [String: Any])?["prompt_tokens"] as? NSNumber)?.intValue ?? 0
        return Self.json(["model": name, "embeddings": vectors, "total_duration": started.duration(to: .now).nanoseconds,
                          "load_duration": waited.nanoseconds, "prompt_eval_count": tokens])
    }

    // MARK: Lists

    private func tags() async throws -> Response {
        var models: [[String: Any]] = []
        for model in await scheduler.configuredModels where model.backend != nil {
            models.append(try await describe(model, footprint: nil))
        }
        return Self.json(["models": models])
    }

    private func show(_ request: Request) async throws -> Response {
        let body = try await Self.body(request)
        let name = try Self.modelName(body)
        let model = try await scheduler.modelConfig(name)
        let info = OllamaModelInfo.of(model, resolve: resolvePath)
        let path = model.ggufPath(resolve: resolvePath)
        var object: [String: Any] = [
            "modelfile": "# Served by vramd from its config\n" + (path.map { "FROM \($0)\n" } ?? ""),
            "parameters": Self.configuredContext(model).map { "num_ctx \($0)" } ?? "",
            "template": info.template ?? "", "details": info.details, "model_info": info.modelInfo,
            "capabilities": model.kind == .embed ? ["embedding"] : ["completion"],
            "modified_at": OllamaTranslation.timestamp(info.modified ?? Date(timeIntervalSince1970: 0)),
        ]
        if info.template == nil { object["template"] = "{{ .Prompt }}" }
        return Self.json(object)
    }

    private func running() async throws -> Response {
        let report = await scheduler.statusReport()
        let gpus = Set(report.devices.filter { $0.kind == "nvidia" }.map(\.id))
        var models: [[String: Any]] = []
        for status in report.models where status.state == .ready {
            let model = try await scheduler.modelConfig(status.id)
            var entry = try await describe(model, footprint: status.footprint)
            let info = OllamaModelInfo.of(model, resolve: resolvePath)
            entry["size"] = status.footprint
            entry["size_vram"] = status.device.map { gpus.contains($0) } == true ? status.footprint : 0
            // A model kept forever is reported as Ollama does, with an expiry far ahead.
            let expiry = status.keepAliveExpiresAt.map { Date(timeIntervalSince1970: $0) } ?? Date(timeIntervalSince1970: 253_402_300_799)
            entry["expires_at"] = OllamaTranslation.timestamp(expiry)
            entry["context_length"] = Self.configuredContext(model) ?? info.contextLength ?? 0
            models.append(entry)
        }
        return Self.json(["models": models])
    }

    private func describe(_ model: ModelConfig, footprint: Int64?) async throws -> [String: Any] {
        let info = OllamaModelInfo.of(model, resolve: resolvePath)
        let name = model.id.rawValue
        return ["name": name, "model": name, "size": info.fileSize ?? footprint ?? 0,
                "modified_at": OllamaTranslation.timestamp(info.modified ?? Date(timeIntervalSince1970: 0)),
                "digest": Self.digest(name, info), "details": info.details]
    }

    // MARK: Helpers

    /// Takes a lease on `model` (queueing, evicting and loading as the OpenAI routes do) and sends
    /// `body` to its backend. The lease is the caller's to release.
    private func exchange(_ model: String, path: String, body: [String: Any], request: Request,
                          context: BrokerRequestContext) async throws -> (Lease, HTTPClientResponse, Duration) {
        let started = ContinuousClock.now
        let scheduler = self.scheduler, priority = ProxyRoute.priority(request.headers)
        let lease = try await context.untilClientHangsUp { try await scheduler.acquire(model, priority: priority) }
        let waited = started.duration(to: .now)
        var upstream = HTTPClientRequest(url: lease.endpoint + ProxyRoute.openAI(path).backendPath(in: lease.config.paths))
        upstream.method = .POST
        upstream.headers.add(name: "Content-Type", value: "application/json")
        upstream.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        do {
            return (lease, try await client.execute(upstream, timeout: .hours(24)), waited)
        } catch {
            await lease.release()
            if error is CancellationError { throw error }
            throw BrokerError.unreachable(lease, error)
        }
    }

    /// A whole answer as JSON, the lease released; a backend's error becomes Ollama's.
    private func collect(_ response: HTTPClientResponse, lease: Lease) async throws -> [String: Any] {
        let data: ByteBuffer
        do {
            data = try await response.body.collect(upTo: 256 << 20)
        } catch {
            await lease.release()
            if error is CancellationError { throw error }
            throw BrokerError.brokeOff(lease.model.rawValue, error)
        }
        await lease.release()
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any] ?? [:]
        guard response.status.code < 400 else {
            let error = object["error"]
            let message = (error as? [String: Any])?["message"] as? String ?? error as? String ?? String(buffer: data)
            throw BrokerError(code: "backend_error", statusCode: Int(response.status.code), message: message, model: lease.model.rawValue)
        }
        return object
    }

    /// Runs a handler, answering vramd's errors in Ollama's shape.
    private func answer(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as BrokerError {
            var response = Self.json(["error": error.message], status: HTTPResponse.Status(code: error.statusCode))
            if let retry = error.retryAfter { response.headers[.retryAfter] = "\(retry)" }
            return response
        }
    }

    private static func body(_ request: Request) async throws -> [String: Any] {
        let buffer = try await request.body.collect(upTo: 64 << 20)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw BrokerError.badRequest("the body must be a JSON object")
        }
        return object
    }

    private static func modelName(_ body: [String: Any]) throws(BrokerError) -> String {
        guard let name = (body["model"] ?? body["name"]) as? String, !name.isEmpty else {
            throw BrokerError.badRequest("the body names no model (a \"model\" field)")
        }
        return name
    }

    /// The context a model is configured with: its `memory: {gguf, context}`, or the `-c` /
    /// `--ctx-size` of its process command.
    static func configuredContext(_ model: ModelConfig) -> Int? {
        if case .gguf(let spec) = model.memory, case .tokens(let tokens) = spec.context { return tokens }
        guard case .process(let process)? = model.backend else { return nil }
        let argv = process.command
        for (index, argument) in argv.enumerated() where ["-c", "--ctx-size"].contains(argument) && index + 1 < argv.count {
            return Int(argv[index + 1])
        }
        return nil
    }

    /// A stable identifier of a model's name and file, in the form of Ollama's digests.
    private static func digest(_ name: String, _ info: OllamaModelInfo) -> String {
        String(repeating: StableHash.hex("\(name)|\(info.fileSize ?? 0)|\(info.modified?.timeIntervalSince1970 ?? 0)"), count: 4)
    }

    private static func unsupported(_ route: String) -> Response {
        json(["error": "vramd serves the models in its config; \(route) is not supported: add the model to the config and reload"],
             status: .notImplemented)
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
