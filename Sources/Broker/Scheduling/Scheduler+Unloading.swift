import Backends
import VRAMPolicy

/// Taking a model out of memory: on request (after its requests drain), for an eviction, and
/// at shutdown.
extension Scheduler {
    /// Unloads `id` once its requests have drained.
    func unload(_ id: ModelID, reason: String) async throws {
        while let runtime = runtimes[id], runtime.inFlight > 0 || runtime.state == .loading {
            try await waitForChange(until: clock.now.advanced(by: settings.shutdownGrace), model: id)
        }
        guard runtimes[id]?.state == .ready || runtimes[id]?.state == .failed else { return }
        logger.info("unload", metadata: ["model": "\(id)", "reason": "\(reason)"])
        observer.publish(.unloaded(id, reason: reason))
        runtimes[id]?.state = .unloading
        // Its memory stays counted (and it cannot be chosen as a victim) until the backend has
        // really let go; plans meanwhile wait for it.
        try? ledger.beginRequest(id, at: now)
        await finishUnload(id)
        try? ledger.markUnloaded(id)
        notifyChange()
    }

    func beginShutdown() {
        shuttingDown = true
        notifyChange()
    }

    func finishUnloadForShutdown(_ id: ModelID) async { await finishUnload(id) }

    /// Asks the backend to let go and records what it held at its peak; the ledger is the
    /// caller's to update.
    func finishUnload(_ id: ModelID) async {
        guard let backend = runtimes[id]?.backend else { return }
        if let cache = promptCache, let runtime = runtimes[id], let endpoint = runtime.endpoint,
           let key = runtime.config.promptCacheKey(resolve: config.resolvePath) {
            let outcome = await cache.save(id, endpoint: endpoint, key: key)
            stats.promptCache.saved(outcome)
            if outcome.files + outcome.failures > 0 { observer.publish(.promptCache(.promptCacheSaved, id, outcome)) }
        }
        do {
            let report = try await backend.unload()
            if let peak = report.peakFootprint, let config = runtimes[id]?.config {
                await footprints?.record(peak, for: config.footprintKey)
            }
            if !report.memoryReturned { logger.warning("memory not returned in time", metadata: ["model": "\(id)"]) }
        } catch {
            logger.error("unload failed", metadata: ["model": "\(id)", "error": "\(error)"])
            runtimes[id]?.lastError = "unload: \(error)"
        }
        if runtimes[id]?.state == .unloading { runtimes[id]?.state = .unloaded }
        runtimes[id]?.endpoint = nil
        runtimes[id]?.pid = nil
        runtimes[id]?.stale = false
        if let next = runtimes[id]?.nextBackend {
            runtimes[id]?.backend = next
            runtimes[id]?.nextBackend = nil
            watch.forget(id)
        }
        runtimes[id]?.standing.endContention()
        stats.unloads += 1
        notifyChange()
    }
}
