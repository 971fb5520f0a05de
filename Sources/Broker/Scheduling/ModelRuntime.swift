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
    /// The config changed while its process ran (or was starting, or stopping): unloaded once
    /// idle, reloaded on next use.
    var stale = false
    /// A reload took the model out of the config: it is being retired (``Scheduler/retire(_:)``)
    /// and takes no new requests.
    var retiring = false
    /// The backend of the changed config, when it changed while the old one ran: it takes the
    /// old one's place once nothing runs (``adoptNextBackend()``). Wrapped, since the new
    /// config may have no backend at all.
    var nextBackend: PendingBackend?
    /// The config the backend and its process go by: a reload changes ``config`` at once, but
    /// what a running process holds (its footprint, its prompt cache) belongs to the config it
    /// was started with.
    var servingConfig: ModelConfig
    /// Where it stands against loads that want it out (the swap quantum).
    var standing = SwapQuantum.Standing()

    struct PendingBackend: Sendable {
        var backend: (any Backend)?
    }

    /// Whether a process of this model may be running, so a reload must not change what it
    /// goes by under it.
    var mayBeRunning: Bool { state == .ready || state == .loading || state == .unloading }

    /// A reload changed the config to `new`, whose backend is `backend` when that changed.
    mutating func reconfigure(_ new: ModelConfig, backend changed: PendingBackend?) {
        stale = mayBeRunning
        config = new
        if stale {
            if let changed { nextBackend = changed }
        } else {
            if let changed { backend = changed.backend }
            servingConfig = new
        }
    }

    /// Nothing runs on the current backend any more: a changed one waiting takes its place, and
    /// the model goes by its current config. Whether the backend changed (its watchers are then
    /// stale).
    mutating func adoptNextBackend() -> Bool {
        stale = false
        servingConfig = config
        guard let next = nextBackend else { return false }
        backend = next.backend
        nextBackend = nil
        return true
    }

    init(config: ModelConfig, backend: (any Backend)?, footprint: Int64, source: FootprintSource) {
        self.config = config
        self.servingConfig = config
        self.backend = backend
        self.footprint = footprint
        self.footprintSource = source
    }
}
