import VRAMPolicy

extension Scheduler {
    /// A lease at once when `name` is ready, has a free slot and nobody is waiting for it;
    /// otherwise `nil`, and nothing has changed.
    ///
    /// This is the direct path's question (``DirectProxyHandler``): in that case ``acquire(_:priority:)``
    /// would hand out the same lease without waiting, and every other case (a load, a queue, an
    /// unknown model, a stale config, shutdown) is left to `acquire` and its errors. A request
    /// admitted here counts, waits (zero) and starts exactly as one admitted there.
    public func acquireIfReady(_ name: String) -> Lease? {
        guard !shuttingDown, let id = config.model(named: name)?.id, let runtime = runtimes[id], runtime.backend != nil,
              runtime.state == .ready, !runtime.stale, !runtime.draining, runtime.pending.isEmpty,
              runtime.inFlight < runtime.config.maxConcurrency, deviceSlotFree(runtime.device), queued < settings.queueMax
        else { return nil }
        stats.requests += 1
        stats.direct += 1
        return startRequest(id, waited: .zero)
    }
}
