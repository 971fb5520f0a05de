import Backends
import VRAMPolicy

/// What vramd watches of the backends it loaded: each one's exit stream, and the health checks
/// each idle one has failed in a row.
struct BackendWatch {
    /// Failed checks in a row that mark an idle model failed: one may be a hiccup (a server
    /// busy with a long prompt answers `/health` late); two are a backend that stopped serving.
    static let failuresToFail = 2

    private var exitWatchers: [ModelID: Task<Void, Never>] = [:]
    private var healthFailures: [ModelID: Int] = [:]

    /// Watches `id`'s exits with `start`'s task, unless one already does: a backend's exit
    /// stream lasts across its loads.
    mutating func watchExits(of id: ModelID, start: () -> Task<Void, Never>) {
        guard exitWatchers[id] == nil else { return }
        exitWatchers[id] = start()
    }

    /// Stops watching `id`'s backend: it was replaced (a config reload changed it) or the
    /// model was removed. A new backend is watched from its first load, and counted from zero.
    mutating func forget(_ id: ModelID) {
        exitWatchers.removeValue(forKey: id)?.cancel()
        healthFailures[id] = nil
    }

    /// Records a health check of `id`: whether the model must now be marked failed, which only
    /// an idle one is. Counting starts again after a pass and after a failure that marks it.
    mutating func checked(_ id: ModelID, healthy: Bool, idle: Bool) -> (failures: Int, fail: Bool) {
        guard !healthy else {
            healthFailures[id] = nil
            return (0, false)
        }
        let failures = healthFailures[id, default: 0] + 1
        let fail = failures >= Self.failuresToFail && idle
        healthFailures[id] = fail ? nil : failures
        return (failures, fail)
    }
}
