import Backends
import VRAMPolicy

/// Noticing a backend that stops serving: a process that exits (at once, through its exit
/// stream) and a server that fails its health checks (every few seconds, while idle).
extension Scheduler {
    /// Checks the health of idle ready models; one that fails ``BackendWatch/failuresToFail``
    /// checks in a row is marked failed and its memory no longer counted, so the next request
    /// loads it again. (Process backends are also watched for their exit, noticed at once.)
    public func probeHealth() async {
        for (id, runtime) in runtimes where runtime.state == .ready && runtime.inFlight == 0 {
            guard let backend = runtime.backend else { continue }
            let health = await backend.health()
            guard runtimes[id]?.state == .ready else { continue }
            let (failures, fail) = watch.checked(id, healthy: health.isHealthy, idle: runtimes[id]?.inFlight == 0)
            if health.isHealthy { continue }
            logger.warning("health check failed", metadata: ["model": "\(id)", "health": "\(health)", "failures": "\(failures)"])
            if fail {
                try? ledger.markUnloaded(id)
                runtimes[id]?.state = .failed
                runtimes[id]?.lastError = "health check: \(health)"
                observer.publish(.failed(id, "health check: \(health)"))
                stats.backendFailures += 1
                // Stop what is left of it (a hung process) so a reload starts clean.
                _ = try? await backend.unload()
                notifyChange()
            }
        }
    }

    /// Measures what each loaded model's processes hold now: a server's memory grows as it
    /// serves (KV pages touched, buffers sized by the requests), and the peak is what later
    /// plans must count on, now and after a restart.
    public func remeasureFootprints() async {
        for (id, runtime) in runtimes where runtime.state == .ready {
            guard let backend = runtime.backend,
                  let measured = (try? await backend.measuredFootprint()).flatMap({ $0 }).map({ Int64(clamping: $0) }),
                  let current = runtimes[id], current.state == .ready, measured > current.footprint else { continue }
            runtimes[id]?.footprint = measured
            runtimes[id]?.footprintSource = .measured
            try? ledger.updateFootprint(id, bytes: measured)
            await footprints?.record(UInt64(measured), for: current.servingConfig.footprintKey)
        }
    }

    func watchExits(_ id: ModelID, _ backend: any Backend) {
        watch.watchExits(of: id) {
            Task {
                for await exit in backend.exits where !exit.expected {
                    self.backendExited(id, exit)
                }
            }
        }
    }

    private func backendExited(_ id: ModelID, _ exit: BackendExit) {
        guard runtimes[id]?.state == .ready else { return }
        logger.error("backend exited", metadata: ["model": "\(id)", "exit": "\(exit)"])
        try? ledger.markUnloaded(id)
        fail(id, "\(exit.status)" + (exit.lastLines.last.map { ": \($0)" } ?? ""))
        stats.backendFailures += 1
        notifyChange()
    }
}
