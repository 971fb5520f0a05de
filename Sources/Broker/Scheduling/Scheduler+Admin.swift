import AsyncHTTPClient
import Backends
import Devices
import Foundation
import NIOCore
import VRAMConfig
import VRAMPolicy

/// What `/v1/models` and `/v1/status` say about one model.
public struct ModelStatus: Sendable, Codable {
    public var id: String
    public var kind: String
    public var aliases: [String]
    public var state: ModelState
    public var device: String?
    public var footprint: Int64
    public var footprintSource: FootprintSource
    public var inFlight: Int
    public var queued: Int
    public var loadCount: Int
    public var lastLoadSeconds: Double?
    public var lastError: String?
    public var keepAliveExpiresIn: Double?
    public var backend: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, aliases, state, device, footprint, queued, backend
        case footprintSource = "footprint_source", inFlight = "in_flight", loadCount = "load_count"
        case lastLoadSeconds = "last_load_seconds", lastError = "last_error", keepAliveExpiresIn = "keep_alive_expires_in"
    }
}

extension Scheduler {
    /// Loads a model without a request (`POST /v1/models/{id}/load`, `preload: true`).
    public func load(_ name: String, reason: LoadReason = .admin) async throws {
        let id = try resolve(name)
        guard runtimes[id]?.backend != nil else { throw BrokerError.badRequest("model '\(id)' has no backend configured", model: id.rawValue) }
        if runtimes[id]?.state == .ready { return }
        try await startLoad(id, reason: reason).value
    }

    /// Unloads a model once its requests drain (`POST /v1/models/{id}/unload`).
    public func unload(_ name: String) async throws {
        try await unload(try resolve(name), reason: "requested")
    }

    /// Unloads idle models past their keep-alive; the reaper calls it.
    public func reapExpired() async {
        for id in ledger.expired(at: now) where runtimes[id]?.state == .ready && runtimes[id]?.inFlight == 0 {
            try? await unload(id, reason: "keep-alive expired")
        }
    }

    /// Reads every real device and updates capacity and foreign memory in the ledger, so the
    /// planner never counts on memory someone else holds.
    public func refreshDevices() async {
        for device in config.devices { await refreshReading(of: device) }
        notifyChange()
    }

    /// Reads the devices a load of `id` may be planned on (its own, or every one), just before
    /// planning it: memory another program took since the last periodic reading must be seen
    /// before vramd counts on it, or the load overcommits the device. A reading is a library
    /// call or one `nvidia-smi` run; simulated devices have none. Wakes nobody: the caller
    /// plans at once.
    func refreshReadings(forLoadOf id: ModelID) async {
        let pinned = runtimes[id]?.config.device
        for device in config.devices where pinned == nil || device.id == pinned {
            await refreshReading(of: device)
        }
    }

    private func refreshReading(of device: DeviceConfig) async {
        guard device.kind != .simulated, let probe = probes[device.id] else { return }
        var managed = Set<Int32>()
        var external: UInt64 = 0
        for resident in ledger.residents where resident.device == device.id {
            // A process still loading counts by what its tree holds so far, like a loaded one.
            // Counting it at its planned size instead hid as much of a stranger's memory
            // until the load ended (the ledger holds the planned size for the planner anyway).
            if let pid = runtimes[resident.id]?.pid {
                managed.insert(pid)
            } else if let pid = await runtimes[resident.id]?.backend?.processID {
                managed.insert(pid)
            } else {
                // Memory no process of ours shows (an http backend's server, an Ollama model):
                // counted as ours, at its planned size, not as foreign.
                external += UInt64(max(0, resident.bytes))
            }
        }
        guard let account = try? await probe.account(cap: device.capacity.map { UInt64($0) }, managedRoots: managed,
                                                     externallyManaged: external) else { return }
        // Capacity − foreign must come out as min(cap, total − foreign).
        let foreign = Int64(clamping: account.foreign)
        let capacity = min(Int64(clamping: account.total), (device.capacity ?? Int64(clamping: account.total)) + foreign)
        try? ledger.setForeign(foreign, on: device.id)
        try? ledger.setCapacity(capacity, on: device.id)
    }

    /// Loads the models marked `preload: true`.
    public func preload() async {
        for model in config.models where model.preload {
            do { try await load(model.id.rawValue, reason: .preload) } catch { logger.error("preload failed", metadata: ["model": "\(model.id)", "error": "\(error)"]) }
        }
    }

    /// Applies a new config's models, ledger policy and the settings a reload may change
    /// (``BrokerSettings/reloaded(from:)``): new models appear, removed ones are unloaded,
    /// changed ones are reloaded on next use. Devices and the settings fixed at start stay as
    /// they started (the server reports changes to them).
    ///
    /// Everything is applied in one step of the actor, before the first suspension: two reloads
    /// that overlap (SIGHUP and the admin route) apply in the order they arrive, and a load or
    /// release finishing meanwhile is never overwritten. Only then are removed models retired.
    public func reload(_ new: Config, footprint: (ModelConfig) throws -> (Int64, FootprintSource)) async throws {
        var specs: [ModelSpec] = []
        var updated: [ModelID: ModelRuntime] = [:]
        for model in new.models {
            let (bytes, source) = try footprint(model)
            specs.append(model.spec(memory: bytes))
            if var runtime = runtimes[model.id] {
                // Added back before its retirement was done: kept.
                runtime.retiring = false
                if runtime.config != model {
                    // The prompt cache's arguments are part of the server's command line.
                    let backendChanged = runtime.config.backend != model.backend || runtime.config.promptCache != model.promptCache
                    runtime.reconfigure(model, backend: backendChanged ? ModelRuntime.PendingBackend(backend: backendFactory(model)) : nil)
                    if backendChanged && !runtime.stale { watch.forget(model.id) }
                    runtime.footprint = bytes
                    runtime.footprintSource = source
                }
                updated[model.id] = runtime
            } else {
                updated[model.id] = ModelRuntime(config: model, backend: backendFactory(model), footprint: bytes, source: source)
            }
        }
        let removed = runtimes.keys.filter { updated[$0] == nil }
        for (id, runtime) in updated { runtimes[id] = runtime }
        for id in removed { runtimes[id]?.retiring = true }
        settings = settings.reloaded(from: new.broker)
        live.reload(from: new.broker)
        admission.limit = settings.queueMax
        prewarming.mode = settings.prewarm
        pressureHook = settings.onPressureHook.map { PressureHook(url: $0, logger: logger) }
        // What is fixed at start stays as it runs, so status and placement describe it.
        var applied = new
        applied.listen = config.listen
        applied.devices = config.devices
        applied.broker = settings
        config = applied
        ledger.options = new.policy
        // Removed models still resident stay counted until they are retired below.
        ledger.replaceModels(specs)
        logger.info("config reloaded", metadata: ["models": "\(new.models.count)", "removed": "\(removed.count)"])
        notifyChange()
        for id in removed { await retire(id) }
    }

    /// Stops taking requests and unloads everything vramd loaded (SIGTERM, after the drain).
    public func shutdown() async {
        beginShutdown()
        waitRoom.cancelTimer()
        for (id, runtime) in runtimes where runtime.state == .ready || runtime.state == .loading || runtime.state == .failed {
            if let task = runtime.loadTask { _ = try? await task.value }
            try? ledger.markUnloaded(id)
            runtimes[id]?.state = .unloading
            await finishUnloadForShutdown(id)
        }
    }

    public func models() -> [ModelStatus] {
        config.models.compactMap { model in
            guard let runtime = runtimes[model.id] else { return nil }
            let expiry = ledger.keepAliveExpiry(of: model.id).map { Double($0.since(now).nanoseconds) / 1e9 }
            return ModelStatus(
                id: model.id.rawValue, kind: model.kind.rawValue, aliases: model.aliases, state: runtime.state,
                device: runtime.device?.rawValue, footprint: runtime.footprint, footprintSource: runtime.footprintSource,
                inFlight: runtime.inFlight, queued: runtime.pending.count, loadCount: runtime.loadCount,
                lastLoadSeconds: runtime.lastLoadDuration.map { Double($0.nanoseconds) / 1e9 },
                lastError: runtime.lastError, keepAliveExpiresIn: runtime.state == .ready ? expiry : nil,
                backend: model.backend?.typeName)
        }
    }

    /// Sets how long `name` stays loaded once idle, from a request that says so (Ollama's
    /// `keep_alive`); it holds until another request or a config reload changes it.
    public func setKeepAlive(_ name: String, _ keepAlive: KeepAlive) throws {
        let id = try resolve(name)
        guard var spec = ledger.model(id), spec.keepAlive != keepAlive else { return }
        spec.keepAlive = keepAlive
        ledger.register(spec)
        runtimes[id]?.config.keepAlive = keepAlive
    }

    /// A model's config, by its name or an alias.
    public func modelConfig(_ name: String) throws -> ModelConfig {
        let id = try resolve(name)
        guard let model = runtimes[id]?.config else { throw BrokerError.modelNotFound(name, suggestion: nil) }
        return model
    }

    /// Saves and restores the prompt caches of models with `prompt_cache: true` there (set up
    /// once: a later call, from a reload, keeps the first).
    public func usePromptCache(root: String) {
        guard promptCache == nil else { return }
        promptCache = PromptCache(root: root, diskLimit: settings.promptCacheDisk, timeout: settings.promptCacheTimeout,
                                  client: HTTPClient.backends, logger: logger)
    }

    /// Every configured model, in config order.
    public var configuredModels: [ModelConfig] { config.models }

    public var statistics: SchedulerStats { stats }
    public var currentLedger: Ledger { ledger }
}
