import AsyncHTTPClient
import Devices
import Logging
import VRAMPolicy

/// A model in a server that stays up and loads and unloads it on request (the mGPUmanager kind).
///
/// vramd did not start the server, so it is measured differently from a `process` backend: when
/// the server listens on this machine its process is found by its port and the model's footprint
/// is what the server's tree grew by over the load; otherwise it is what the device's free memory
/// fell by. The server's own memory outside the model is foreign; ``LoadedModel/pid`` is `nil`, so
/// the broker counts the footprint as vramd's (`externallyManaged`).
public actor HTTPBackend: Backend {
    public nonisolated let model: ModelID
    public nonisolated let configuration: HTTPBackendConfiguration
    public nonisolated var management: BackendManagement { .vramd }
    /// Finishes at once: this backend starts no process.
    public nonisolated let exits = AsyncStream<BackendExit>.none

    private struct Loaded {
        let placement: Placement
        let serverPID: Int32?
        /// The server's tree before the load, or the device's free memory when the server is not
        /// local.
        let baseline: UInt64
        let footprint: UInt64
    }

    private let tools: BackendTools
    private var caller: HTTPCaller { tools.caller }
    private var clock: any Clock<Duration> { tools.clock }
    private var logger: Logger { tools.logger }
    private var loaded: Loaded?

    public init(model: ModelID, configuration: HTTPBackendConfiguration, httpClient: HTTPClient = .shared,
                clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "vramd.backend.http")) {
        self.model = model
        self.configuration = configuration
        tools = BackendTools(model: model, httpClient: httpClient, clock: clock, logger: logger)
    }

    public func load(on placement: Placement) async throws -> LoadedModel {
        guard loaded == nil else { throw BackendError.alreadyLoaded(model) }
        let started = ContinuousClock.now
        let serverPID = await Self.localServerPID(configuration.url)
        let baseline = try await measure(serverPID, placement.probe)
        let url = configuration.url, model = model, caller = caller, clock = clock, health = configuration.health
        let finished = try await Deadline.run(within: configuration.loadTimeout, clock: clock) { [configuration] in
            if let call = configuration.load {
                let response = try await caller.send(call, to: url, model: model, timeout: configuration.loadTimeout)
                guard response.isSuccess else {
                    throw BackendError("\(model): \(call.method) \(call.path) answered \(response.status): \(response.body.prefix(200))")
                }
            }
            try await caller.waitUntilReady(url: url + health.path.replacingPlaceholder("MODEL_ID", with: model.rawValue), clock: clock)
            return true
        }
        guard finished == true else {
            throw BackendError.loadTimedOut(model, after: configuration.loadTimeout, lastLines: [])
        }
        let after = try await measure(serverPID, placement.probe)
        // On the server's tree the footprint is growth; on the device's free memory, shrinkage.
        let footprint = serverPID == nil ? baseline.subtractingClamped(after) : after.subtractingClamped(baseline)
        loaded = Loaded(placement: placement, serverPID: serverPID, baseline: baseline, footprint: footprint)
        let took = started.duration(to: .now)
        logger.info("loaded", metadata: [
            "url": "\(url)", "server_pid": "\(serverPID.map(String.init) ?? "not local")",
            "footprint_mib": "\(footprint >> 20)", "load_ms": "\(took.nanoseconds / 1_000_000)",
        ])
        return LoadedModel(model: model, device: placement.device, endpoint: url, pid: nil, footprint: footprint, loadDuration: took)
    }

    public func unload() async throws -> UnloadReport {
        guard let current = loaded else { return UnloadReport(wasLoaded: false, memoryReturned: true) }
        let peak = try? await measuredFootprint()
        if let call = configuration.unload {
            let response = try await caller.send(call, to: configuration.url, model: model, timeout: configuration.loadTimeout)
            guard response.isSuccess else {
                throw BackendError("\(model): \(call.method) \(call.path) answered \(response.status): \(response.body.prefix(200))")
            }
        }
        loaded = nil
        // Returned means back to within a tenth of the footprint (at least 16 MiB) of the figure
        // before the load: allocators keep a little, and other processes move the device's figure.
        let slack = max(current.footprint / 10, 16 << 20)
        let (returned, waited) = await Poll.until(timeout: configuration.memoryReturnTimeout, clock: clock) { [self] in
            let now = try await measure(current.serverPID, current.placement.probe)
            return current.serverPID == nil ? now + slack >= current.baseline : now <= current.baseline + slack
        }
        if !returned {
            logger.warning("device still shows the model's memory after the unload", metadata: ["waited": "\(waited)"])
        }
        logger.info("unloaded", metadata: ["memory_wait_ms": "\(waited.nanoseconds / 1_000_000)"])
        return UnloadReport(wasLoaded: true, peakFootprint: max(peak ?? 0, current.footprint), memoryReturned: returned, memoryWait: waited)
    }

    public func health() async -> BackendHealth {
        await caller.health(configuration.health, at: configuration.url, model: model)
    }

    public func measuredFootprint() async throws -> UInt64? {
        guard let current = loaded else { return nil }
        guard current.serverPID != nil else { return current.footprint }
        return try await measure(current.serverPID, current.placement.probe).subtractingClamped(current.baseline)
    }

    /// The server's tree on the device when it is known, else the device's free memory.
    private nonisolated func measure(_ serverPID: Int32?, _ probe: any DeviceProbe) async throws -> UInt64 {
        if let serverPID, let usage = try await probe.usage(ofProcessTree: serverPID) {
            return usage.bytes
        }
        return try await probe.read().free
    }

    /// The process behind a URL on this machine, found by the port it listens on.
    static func localServerPID(_ url: String) async -> Int32? {
        guard let (host, port) = hostAndPort(url), ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"].contains(host) else {
            return nil
        }
        return await ListeningProcess.find(port: port)
    }

    /// The host (an IPv6 address in its brackets) and port of a URL, the scheme's port when it names none.
    public static func hostAndPort(_ url: String) -> (String, Int)? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let authority = url[schemeEnd.upperBound...].prefix { $0 != "/" }
        let defaultPort = url.hasPrefix("https") ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
            return (String(authority[..<colon]), port)
        }
        return (String(authority), defaultPort)
    }
}

extension UInt64 {
    /// `self - other`, or zero when `other` is larger.
    func subtractingClamped(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
