import Backends
import VRAMConfig
import VRAMPolicy

/// Where a model is in its life, as `/v1/models` and `/v1/status` report it.
public enum ModelState: String, Sendable, Codable {
    case unloaded, loading, ready, unloading, failed
}

/// Why a model is loaded: a request asked for it, an admin call, or `preload: true` at start-up.
public enum LoadReason: String, Sendable {
    case request, admin, preload
}

/// What the scheduler knows about one configured model beyond the ledger.
struct ModelRuntime: Sendable {
    var config: ModelConfig { didSet { sharedConfig = SharedModelConfig(config) } }
    /// The same config behind one reference, which every ``Lease`` holds: a copy of the struct
    /// per request retained each of its strings and arrays, and released them again.
    private(set) var sharedConfig: SharedModelConfig
    var backend: (any Backend)?
    var state = ModelState.unloaded
    var endpoint: String?
    var device: DeviceID?
    var pid: Int32?
    var loadTask: Task<Void, any Error>?
    /// Why the running load was started, for its log line and event.
    var loadReason = LoadReason.request
    /// Requests waiting for this model (to load, or for a concurrency slot), served by
    /// priority, then FIFO.
    var pending: [Pending] = []
    var inFlight = 0
    var lastError: String?
    var loadCount = 0
    var lastLoadDuration: Duration?
    var lastUsed: ContinuousClock.Instant?
    var footprint: Int64
    var footprintSource: FootprintSource
    /// The config changed while it was resident: unloaded once idle, reloaded on next use.
    var stale = false
    /// Another model is waiting to swap this one out: no new requests start on it.
    var draining = false
    /// Requests served since a load started waiting to swap this model out (the swap quantum).
    var quantumServed = 0
    var contentionSince: ContinuousClock.Instant?
    /// Requests started since it was last loaded: one loaded for waiting requests serves at
    /// least one of them before it can be swapped out, whatever the quantum.
    var servedSinceLoad = 0
    /// Consecutive failed health checks while idle; two mark it failed.
    var healthFailures = 0

    struct Pending: Sendable {
        var sequence: Int
        var priority: Int
    }

    init(config: ModelConfig, backend: (any Backend)?, footprint: Int64, source: FootprintSource) {
        self.config = config
        self.sharedConfig = SharedModelConfig(config)
        self.backend = backend
        self.footprint = footprint
        self.footprintSource = source
    }

    mutating func enqueue(_ sequence: Int, priority: Int) {
        pending.append(Pending(sequence: sequence, priority: priority))
        pending.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.sequence < $1.sequence }
    }

    mutating func dequeue(_ sequence: Int) {
        pending.removeAll { $0.sequence == sequence }
    }

    /// Whether the request is first in line (or not queued at all).
    func isFirst(_ sequence: Int) -> Bool {
        pending.first.map { $0.sequence == sequence } ?? true
    }

    mutating func endContention() {
        draining = false
        quantumServed = 0
        contentionSince = nil
    }
}

/// A model's config, shared by reference.
final class SharedModelConfig: Sendable {
    let config: ModelConfig

    init(_ config: ModelConfig) { self.config = config }
}
