import AsyncHTTPClient
import Devices
import Logging
import VRAMPolicy

/// A server vramd only routes to: never loaded, never evicted; whatever memory it holds is
/// foreign to the planner.
public struct ExternalBackend: Backend {
    public let model: ModelID
    public let configuration: ExternalBackendConfiguration
    public var management: BackendManagement { .external }
    /// Finishes at once: vramd starts nothing here.
    public let exits = AsyncStream<BackendExit>.none
    private let caller: HTTPCaller

    public init(model: ModelID, configuration: ExternalBackendConfiguration, httpClient: HTTPClient = .shared) {
        self.model = model
        self.configuration = configuration
        self.caller = HTTPCaller(client: httpClient)
    }

    /// Checks that the server answers and returns where to route; loads nothing.
    ///
    /// - Throws: ``BackendError`` when the server is not healthy.
    public func load(on placement: Placement) async throws -> LoadedModel {
        let started = ContinuousClock.now
        let health = await health()
        guard health.isHealthy else { throw BackendError("\(model): external server at \(configuration.url) is \(health)") }
        return LoadedModel(model: model, device: placement.device, endpoint: configuration.url, pid: nil, footprint: nil,
                           loadDuration: started.duration(to: .now))
    }

    /// Refuses: vramd never evicts an external server's model.
    public func unload() async throws -> UnloadReport {
        throw BackendError("\(model) is external: vramd routes to it but never unloads it")
    }

    public func health() async -> BackendHealth {
        await caller.health(configuration.health, at: configuration.url, model: model)
    }

    /// Always `nil`: its memory is foreign, seen only in the device's figures.
    public func measuredFootprint() async throws -> UInt64? { nil }
}
