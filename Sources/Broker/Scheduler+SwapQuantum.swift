import VRAMPolicy

extension Scheduler {
    /// Against thrash: a resident model with requests queued is swapped out for one of the same
    /// or lower priority only after serving up to `swap_quantum` of them (or its time). Returns
    /// whether any of `victims` still holds its place.
    ///
    /// Called whenever a load of `target` plans to evict `victims`, or waits for them to go idle:
    /// the quantum starts at the first such plan. A spent quantum marks the victim draining, so
    /// its queued requests wait until it has been swapped out and back in. A quantum of 0 is
    /// spent at once (the waiting model goes next), once the victim has served one request
    /// since it was loaded.
    func swapQuantumHolds(_ victims: [ModelID], for target: ModelID) -> Bool {
        guard let target = runtimes[target] else { return false }
        var holds = false
        for id in victims {
            // Only a ready model serves requests; one still loading has no quantum to spend.
            guard var victim = runtimes[id], victim.state == .ready, !victim.pending.isEmpty,
                  target.config.priority <= victim.config.priority else { continue }
            let since = victim.contentionSince ?? clock.now
            victim.contentionSince = since
            // A model that has served nobody since its load has spent nothing: swapping it out
            // now would make its load pure waste (and two models could swap each other forever).
            let served = victim.quantumServed >= settings.swapQuantumRequests && victim.servedSinceLoad > 0
            let spent = served || since.duration(to: clock.now) >= settings.swapQuantumTime
            victim.draining = victim.draining || spent
            runtimes[id] = victim
            if !spent {
                holds = true
                wake(after: settings.swapQuantumTime)
            }
        }
        return holds
    }
}
