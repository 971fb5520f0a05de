import Backends
import Devices
import VRAMConfig
import VRAMPolicy

/// Getting a model into memory: one load per model however many requests wait for it, planned
/// again at every change until the plan can be carried out, then its victims unloaded and the
/// backend started.
extension Scheduler {
    /// Starts the load of `id`, or returns the one already running.
    @discardableResult
    func startLoad(_ id: ModelID, reason: LoadReason = .request) -> Task<Void, any Error> {
        if let task = runtimes[id]?.loadTask { return task }
        // Nothing runs on the backend of a model unloaded or failed: a changed one waiting from
        // a reload takes over now, or a failed model would be loaded with its old command again.
        if runtimes[id]?.state == .unloaded || runtimes[id]?.state == .failed { adoptNextBackend(of: id) }
        runtimes[id]?.loadReason = reason
        // Unstructured on purpose: a load whose clients all left still completes; it is likely
        // to be asked for again.
        let task = Task { try await self.performLoad(id) }
        runtimes[id]?.loadTask = task
        runtimes[id]?.state = .loading
        observer.publish(.loadStarted(id))
        notifyChange()
        return task
    }

    private func performLoad(_ id: ModelID) async throws {
        // Models whose swap quantum this load started: one not being evicted when the load
        // ends (it failed, timed out, or went elsewhere) must not stay draining with nobody to
        // swap it for: its queue would only ever time out.
        var contended: Set<ModelID> = []
        defer {
            for victim in contended where runtimes[victim]?.state != .unloading { runtimes[victim]?.standing.endContention() }
            for victim in contended { stopWaiting(on: victim) }
            runtimes[id]?.loadTask = nil
            // A load that gave up before its backend was asked (no room in time) leaves the
            // model loadable: left "loading" with nothing loading it, every later request would
            // wait for it until its own timeout, for as long as vramd runs.
            if runtimes[id]?.state == .loading { runtimes[id]?.state = .unloaded }
            notifyChange()
        }
        let deadline = clock.now.advanced(by: settings.queueTimeout)
        // What this load last said it waits for. Every release anywhere wakes it to plan again:
        // reporting each of those would post the same wait to the hook (a task and an HTTP
        // request each) and log it hundreds of times a second on a busy broker.
        var reportedWait: Set<ModelID>?
        while true {
            await refreshReadings(forLoadOf: id)
            let decision = ledger.plan(load: id, at: now)
            switch decision {
            case .resident:
                if runtimes[id]?.state != .ready { runtimes[id]?.state = .ready }
                return
            case .reject(let rejection):
                fail(id, "\(rejection)")
                throw BrokerError.insufficientMemory(rejection)
            case .wait where runtimes[id]?.loadReason == .prewarm:
                return  // a guess never waits, nor holds anything up
            case .wait(let plan):
                warmFile(of: id)
                // The quantum of a busy model we wait for starts now, not once it is idle:
                // otherwise its queue, served as each request ends, could keep it busy forever.
                let waitingFor = plan.waitingFor.map(\.model)
                for victim in waitingFor where contended.insert(victim).inserted { startWaiting(on: victim) }
                _ = swapQuantumHolds(waitingFor, for: id)
                let waited = Set(waitingFor)
                if waited != reportedWait {
                    reportedWait = waited
                    pressureHook?.fire(decision)
                    logger.info("waiting to load", metadata: ["model": "\(id)", "reason": "\(plan)"])
                }
                try await waitForChange(until: deadline, model: id)
            case .load(let plan) where runtimes[id]?.loadReason == .prewarm && !plan.evictions.isEmpty:
                return  // a guess never evicts
            case .load(let plan):
                for victim in plan.evictions.map(\.model) where contended.insert(victim).inserted { startWaiting(on: victim) }
                let group = runtimes[id]?.config.exclusiveGroup
                if !loads.mayStart(plan, group: group) || swapQuantumHolds(plan.evictions.map(\.model), for: id) {
                    try await waitForChange(until: deadline, model: id)
                    continue
                }
                if !plan.evictions.isEmpty { pressureHook?.fire(decision) }
                try await carryOut(plan)
                return
            }
        }
    }

    /// Commits the plan in the ledger at once (so concurrent plans see the memory as taken),
    /// then unloads the victims and loads the target.
    private func carryOut(_ plan: LoadPlan) async throws {
        let id = plan.model
        let group = runtimes[id]?.config.exclusiveGroup
        loads.begin(plan, group: group)
        defer { loads.end(plan, group: group) }
        for eviction in plan.evictions {
            runtimes[eviction.model]?.state = .unloading
            // Still counted, and busy so no other plan picks it, until its memory is back.
            try? ledger.beginRequest(eviction.model, at: now)
            stats.evictions[eviction.reason.rule, default: 0] += 1
            stats.swaps += 1
            logger.info("evict", metadata: ["model": "\(eviction.model)", "bytes": "\(eviction.bytes)",
                                            "rule": "\(eviction.reason.rule)", "for": "\(id)"])
            observer.publish(.evicted(eviction, for: id))
        }
        if !plan.evictions.isEmpty {
            logger.info("swap", metadata: ["model": "\(id)", "bytes": "\(plan.bytes)", "device": "\(plan.device)",
                                           "evicted": "\(plan.evictions.map(\.model.rawValue).joined(separator: ","))"])
            observer.publish(.swap(plan))
        }
        runtimes[id]?.state = .loading
        runtimes[id]?.device = plan.device
        for eviction in plan.evictions {
            await finishUnload(eviction.model)
            try? ledger.markUnloaded(eviction.model)
        }
        // The victims are gone; the devices the plan touched were held meanwhile, so the room
        // the plan made is still there.
        try ledger.markLoaded(id, on: plan.device, at: now)
        try ledger.beginRequest(id, at: now)  // protected while it loads

        guard let backend = runtimes[id]?.backend, let probe = probes[plan.device] else {
            try? ledger.markUnloaded(id)
            throw BrokerError.backendFailed(id.rawValue, detail: "no backend or device probe for '\(id)'")
        }
        let cuda = config.device(plan.device).flatMap { $0.kind == .nvidia ? $0.index.map(String.init) : nil }
        let started = clock.now
        // The config this process is started with: a reload during the load changes the model's
        // config, not what this process holds.
        let serving = runtimes[id]?.servingConfig
        do {
            logger.info("load", metadata: ["model": "\(id)", "device": "\(plan.device)", "bytes": "\(plan.bytes)",
                                           "reason": "\(runtimes[id]?.loadReason ?? .request)"])
            let loaded = try await backend.load(on: Placement(device: plan.device, probe: probe, cudaVisibleDevices: cuda))
            // Before any request is admitted, so the first one after a swap-back finds its prefix.
            if let cache = promptCache, let key = serving?.promptCacheKey(resolve: self.config.resolvePath) {
                let outcome = await cache.restore(id, endpoint: loaded.endpoint, key: key)
                stats.promptCache.restored(outcome)
                if outcome.files + outcome.failures + outcome.skipped > 0 { observer.publish(.promptCache(.promptCacheRestored, id, outcome)) }
            }
            try? ledger.endRequest(id, at: now)
            try? ledger.markReady(id, at: now)
            guard var runtime = runtimes[id] else {
                // Taken out of the config while it loaded: what was just started is stopped.
                _ = try? await backend.unload()
                throw BrokerError.modelNotFound(id.rawValue, suggestion: nil)
            }
            runtime.state = .ready
            runtime.endpoint = loaded.endpoint
            runtime.pid = loaded.pid
            runtime.loadCount += 1
            runtime.standing.loaded()
            runtime.lastError = nil
            runtime.lastLoadDuration = started.duration(to: clock.now)
            let measured = loaded.footprint.map { Int64(clamping: $0) }.flatMap { $0 > 0 ? $0 : nil }
            if let measured {
                // What its processes really hold replaces the first guess; as it serves, the
                // peak is measured again (``remeasureFootprints()``).
                runtime.footprint = measured
                runtime.footprintSource = .measured
                try? ledger.updateFootprint(id, bytes: measured)
            }
            // Written back before the next suspension, so nothing changed meanwhile is lost.
            runtimes[id] = runtime
            if let measured { await footprints?.record(UInt64(measured), for: runtime.servingConfig.footprintKey) }
            stats.loads += 1
            stats.loadTime.record(started.duration(to: clock.now))
            observer.publish(.loaded(id, on: plan.device, bytes: runtime.footprint, took: started.duration(to: clock.now)))
            watchExits(id, backend)
        } catch {
            try? ledger.markUnloaded(id)
            let detail = "\(error)"
            fail(id, detail)
            stats.loadFailures += 1
            logger.error("load failed", metadata: ["model": "\(id)", "error": "\(detail)"])
            if (error as? BackendError)?.isLoadTimeout == true {
                throw BrokerError.loadTimeout(id.rawValue, detail: detail)
            }
            throw BrokerError.backendFailed(id.rawValue, detail: detail)
        }
    }

    func fail(_ id: ModelID, _ message: String) {
        runtimes[id]?.state = .failed
        runtimes[id]?.lastError = message
        runtimes[id]?.endpoint = nil
        observer.publish(.failed(id, message))
    }
}
