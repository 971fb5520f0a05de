import Backends
import VRAMConfig
import VRAMPolicy

/// Where a model is in its life, as `/v1/models` and `/v1/status` report it.
public enum ModelState: String, Sendable, Codable {
    case unloaded, loading, ready, unloading, failed
}

/// Why a model is loaded: a request asked for it, an admin call, `preload: true` at start-up, or
/// `policy.prewarm: load` because it usually comes next.
public enum LoadReason: String, Sendable {
    case request, admin, preload, prewarm
}

/// What the scheduler knows about one configured model beyond the ledger.
struct ModelRuntime: Sendable {
    var config: ModelConfig
    var backend: (any Backend)?
    var state = ModelState.unloaded
    var endpoint: String?
    var device: DeviceID?
    var pid: Int32?
    var loadTask: Task<Void, any Error>?
    /// Why the running load was started, for its log line and event.
    var loadReason = LoadReason.request
    /// Requests waiting for this model (to load, or for a concurrency slot).
    var pending = RequestQueue()
    var inFlight = 0
    var lastError: String?
    var loadCount = 0
    var lastLoadDuration: Duration?
    var lastUsed: ContinuousClock.Instant?
    var footprint: Int64
    var footprintSource: FootprintSource
    /// The config changed while it was resident: unloaded once idle, reloaded on next use.
    var stale = false
    /// The backend of the changed config, when it changed while the old one was resident: it
    /// takes the old one's place once that has unloaded, or failed.
    var nextBackend: (any Backend)?
    /// The config its running process was loaded with; `nil` while nothing runs. A reload
    /// changes ``config`` at once, but what the process holds (its footprint, its prompt cache)
    /// belongs to the config it was started with.
    var loadedConfig: ModelConfig?

    var servingConfig: ModelConfig { loadedConfig ?? config }
    /// Where it stands against loads that want it out (the swap quantum).
    var standing = SwapQuantum.Standing()

    /// A reload changed the backend: replaced now when nothing runs on the old one, else when
    /// it has gone (``adoptNextBackend()``).
    mutating func replaceBackend(with new: (any Backend)?) {
        if stale { nextBackend = new } else { backend = new }
    }

    /// Nothing runs on the current backend any more: a changed one waiting takes its place.
    /// Whether it did (its watchers are then stale).
    mutating func adoptNextBackend() -> Bool {
        stale = false
        loadedConfig = nil
        guard let next = nextBackend else { return false }
        backend = next
        nextBackend = nil
        return true
    }

    init(config: ModelConfig, backend: (any Backend)?, footprint: Int64, source: FootprintSource) {
        self.config = config
        self.backend = backend
        self.footprint = footprint
        self.footprintSource = source
    }
}
