import AsyncHTTPClient
import Devices
import Foundation
import Logging
import VRAMPolicy

/// A model in an Ollama server, which manages its own memory.
///
/// Load asks Ollama to load the model with `keep_alive` (an empty generate request); unload asks
/// with `keep_alive: 0`. Ollama runs its own eviction, so the planner pins the model
/// (``BackendManagement/selfManaged``) and counts its memory as `/api/ps` reports it: `size_vram`,
/// or `size` when the model sits in system memory (`size_vram` 0).
public actor OllamaBackend: Backend {
    public nonisolated let model: ModelID
    public nonisolated let configuration: OllamaBackendConfiguration
    public nonisolated var management: BackendManagement { .selfManaged }
    /// Finishes at once: Ollama's processes are Ollama's.
    public nonisolated let exits = AsyncStream<BackendExit>.none

    private let tools: BackendTools
    private var caller: HTTPCaller { tools.caller }
    private var clock: any Clock<Duration> { tools.clock }
    private var logger: Logger { tools.logger }
    private var isLoaded = false

    /// Ollama's name for the model.
    public nonisolated var ollamaModel: String { configuration.ollamaModel ?? model.rawValue }

    public init(model: ModelID, configuration: OllamaBackendConfiguration = OllamaBackendConfiguration(), httpClient: HTTPClient = .shared,
                clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "vramd.backend.ollama")) {
        self.model = model
        self.configuration = configuration
        tools = BackendTools(model: model, httpClient: httpClient, clock: clock, logger: logger)
    }

    public func load(on placement: Placement) async throws -> LoadedModel {
        let started = ContinuousClock.now
        try await generate(keepAlive: configuration.keepAlive, timeout: configuration.loadTimeout)
        isLoaded = true
        let footprint = try await reportedSize()
        let took = started.duration(to: .now)
        logger.info("loaded", metadata: ["ollama_model": "\(ollamaModel)", "footprint_mib": "\(footprint.map { "\($0 >> 20)" } ?? "unknown")"])
        return LoadedModel(model: model, device: placement.device, endpoint: configuration.url, pid: nil, footprint: footprint, loadDuration: took)
    }

    public func unload() async throws -> UnloadReport {
        let peak = try? await reportedSize()
        try await generate(keepAlive: "0", timeout: configuration.loadTimeout)
        let wasLoaded = isLoaded
        isLoaded = false
        let (returned, waited) = await Poll.until(timeout: configuration.memoryReturnTimeout, clock: clock) { [self] in
            try await reportedSize() == nil
        }
        if !returned {
            logger.warning("Ollama still lists the model after the unload", metadata: ["waited": "\(waited)"])
        }
        return UnloadReport(wasLoaded: wasLoaded, peakFootprint: peak ?? nil, memoryReturned: returned, memoryWait: waited)
    }

    public func health() async -> BackendHealth {
        await caller.health(HTTPCall(path: "/api/ps"), at: configuration.url, model: model)
    }

    public func measuredFootprint() async throws -> UInt64? {
        try await reportedSize()
    }

    private func generate(keepAlive: String, timeout: Duration) async throws {
        // Ollama takes keep_alive as a number of seconds or as a duration string ("5m").
        let keepAliveJSON: Any = Int(keepAlive).map { $0 as Any } ?? keepAlive
        let body = try JSONSerialization.data(withJSONObject: ["model": ollamaModel, "keep_alive": keepAliveJSON])
        let response = try await caller.send(.POST, url: configuration.url + "/api/generate",
                                             json: String(decoding: body, as: UTF8.self), timeout: timeout)
        guard response.isSuccess else {
            throw BackendError("\(model): Ollama answered \(response.status) to keep_alive \(keepAlive): \(response.body.prefix(200))")
        }
    }

    private struct Running: Decodable {
        struct Entry: Decodable {
            var name: String
            var model: String?
            var size: UInt64?
            var size_vram: UInt64?
        }
        var models: [Entry]
    }

    /// What `/api/ps` says the model holds, or `nil` when it is not listed.
    private func reportedSize() async throws -> UInt64? {
        let response = try await caller.send(.GET, url: configuration.url + "/api/ps", timeout: .seconds(5))
        guard response.isSuccess else { throw BackendError("\(model): Ollama /api/ps answered \(response.status)") }
        let running = try JSONDecoder().decode(Running.self, from: Data(response.body.utf8))
        let names = Self.names(ollamaModel)
        guard let entry = running.models.first(where: { names.contains($0.name) || names.contains($0.model ?? "") }) else { return nil }
        if let vram = entry.size_vram, vram > 0 { return vram }
        return entry.size ?? 0
    }

    /// Ollama lists `llama3` as `llama3:latest`.
    private static func names(_ name: String) -> Set<String> {
        name.contains(":") ? [name] : [name, name + ":latest"]
    }
}
