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

    /// Takes out a model removed from the config: a load under way finishes, the requests it
    /// is serving get `shutdown_grace` (then its backend is stopped under them, as at shutdown;
    /// requests still queued for it are refused), and it is forgotten. A later reload that adds
    /// it back ends its retirement, which every step checks again after waiting.
    func retire(_ id: ModelID) async {
        if let load = runtimes[id]?.loadTask { _ = try? await load.value }
        guard runtimes[id]?.retiring == true else { return }
        notifyChange()  // its queued requests see it is retiring and leave
        if runtimes[id]?.state == .ready || runtimes[id]?.state == .failed {
            do {
                try await unload(id, reason: "removed from the config")
            } catch where runtimes[id]?.retiring == true && (runtimes[id]?.state == .ready || runtimes[id]?.state == .failed) {
                logger.warning("requests still running past shutdown_grace; stopping the removed model under them",
                               metadata: ["model": "\(id)"])
                runtimes[id]?.state = .unloading
                await finishUnload(id)
                try? ledger.markUnloaded(id)
            } catch {
                // Added back, or a load began meanwhile: whichever, it is not stopped here.
            }
        }
        guard runtimes[id]?.retiring == true, runtimes[id]?.state != .loading else { return }
        runtimes[id] = nil
        watch.forget(id)
        if ledger.resident(id) == nil { ledger.replaceModels(ledger.models.values.filter { $0.id != id }) }
    }

    /// Nothing runs on `id`'s backend any more: a backend a reload changed takes its place, and
    /// the old one's exit watcher and health count go with it.
    func adoptNextBackend(of id: ModelID) {
        if runtimes[id]?.adoptNextBackend() == true { watch.forget(id) }
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
        // Filed under the config its process was started with, which a reload may have changed.
        if let cache = promptCache, let runtime = runtimes[id], let endpoint = runtime.endpoint,
           let key = runtime.servingConfig.promptCacheKey(resolve: config.resolvePath) {
            let outcome = await cache.save(id, endpoint: endpoint, key: key)
            stats.promptCache.saved(outcome)
            if outcome.files + outcome.failures > 0 { observer.publish(.promptCache(.promptCacheSaved, id, outcome)) }
        }
        do {
            let report = try await backend.unload()
            if let peak = report.peakFootprint, let config = runtimes[id]?.servingConfig {
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
        adoptNextBackend(of: id)
        runtimes[id]?.standing.endContention()
        stats.unloads += 1
        notifyChange()
    }
}
