import VRAMPolicy

extension Scheduler {
    /// Whether any of `victims`, which a load of `target` plans to evict or waits for, still
    /// holds its place under the swap quantum (``SwapQuantum``). A spent quantum makes the
    /// victim drain; one still holding wakes the load again when it runs out.
    func swapQuantumHolds(_ victims: [ModelID], for target: ModelID) -> Bool {
        guard let targetPriority = runtimes[target]?.config.priority else { return false }
        let quantum = SwapQuantum(requests: settings.swapQuantumRequests, time: settings.swapQuantumTime)
        let now = self.now
        var holds = false
        for id in victims {
            // Only a ready model serves requests; one still loading has no quantum to spend.
            guard runtimes[id]?.state == .ready else { continue }
            let verdict = withRuntime(id) { victim in
                quantum.judge(&victim.standing, queued: !victim.pending.isEmpty, priority: victim.config.priority,
                              targetPriority: targetPriority, now: now)
            }
            if case .holds(let until)?? = verdict {
                holds = true
                wake(after: until.since(now))
            }
        }
        return holds
    }

    /// A load begins waiting on `victim` (``Contention``).
    func startWaiting(on victim: ModelID) {
        if contention.loadWaits(on: victim, queued: runtimes[victim]?.pending.isEmpty == false) { try? ledger.markContended(victim) }
    }

    func stopWaiting(on victim: ModelID) {
        contention.loadStopsWaiting(on: victim)
    }

    /// A request for `id` arrives: contended if another model's load waits on it.
    func markContendedIfWaitedOn(_ id: ModelID) {
        if contention.requestArrives(for: id) { try? ledger.markContended(id) }
    }
}
