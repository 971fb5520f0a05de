import VRAMPolicy

/// An LRU, memory-aware cache of models held in the app's own process, driven by the same
/// policy as the vramd daemon: priority tiers, QoS, keep-alive and minimal victim sets.
///
/// Concurrent requests for the same key load it once; a request that arrives during a load
/// joins it. An entry in use through ``withModel(_:_:)`` is never evicted: a load that needs its
/// memory waits until it is released.
public actor ModelCache<Loader: ModelLoader> {
    public typealias PressureHandler = @Sendable (MemoryPressure) async -> Bool

    private let loader: Loader
    private var ledger: Ledger
    private let now: @Sendable () -> Instant
    private let onPressure: PressureHandler?
    private var entries: [CacheKey: Loader.Model] = [:]
    private var keys: [ModelID: CacheKey] = [:]
    private var loading: [CacheKey: Task<Loader.Model, any Error>] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var counters = CacheStats()

    /// - Parameters:
    ///   - loader: brings models in and out of memory.
    ///   - budget: the bytes the cache may fill.
    ///   - options: upward eviction and minimum residency (none by default: in one process
    ///     there is no second requester to protect a fresh load from).
    ///   - now: the clock; tests pass their own so nothing sleeps.
    ///   - onPressure: asked before a load evicts anything; returning false refuses the load.
    public init(loader: Loader, budget: Int64, options: PolicyOptions = PolicyOptions(minResidency: .zero),
                now: (@Sendable () -> Instant)? = nil, onPressure: PressureHandler? = nil) {
        self.loader = loader
        self.ledger = Ledger(devices: [DeviceSpec(id: Self.device, capacity: budget)], models: [], options: options)
        self.onPressure = onPressure
        if let now {
            self.now = now
        } else {
            let clock = ContinuousClock()
            let origin = clock.now
            self.now = { Instant(nanoseconds: origin.duration(to: clock.now).nanoseconds) }
        }
    }

    private static var device: DeviceID { "cache" }

    /// The model for `key`, loading it (and evicting others) if needed.
    public func model(for key: CacheKey) async throws -> Loader.Model {
        if let model = entries[key] {
            counters.hits += 1
            try? ledger.touch(key.policyID, at: now())
            return model
        }
        if let pending = loading[key] {
            counters.hits += 1
            return try await pending.value
        }
        counters.misses += 1
        // Unstructured on purpose: a load whose caller goes away still completes, since the
        // model is likely to be asked for again.
        let task = Task { try await self.performLoad(key) }
        loading[key] = task
        defer { loading[key] = nil }
        return try await task.value
    }

    /// Runs `body` with the model for `key`, which cannot be evicted until `body` returns.
    public func withModel<R: Sendable>(_ key: CacheKey, _ body: @Sendable (Loader.Model) async throws -> R) async throws -> R {
        var model = try await self.model(for: key)
        // Between the load finishing and this resumption another job may have evicted it.
        while (try? ledger.beginRequest(key.policyID, at: now())) == nil {
            model = try await self.model(for: key)
        }
        defer {
            try? ledger.endRequest(key.policyID, at: now())
            wakeWaiters()
        }
        return try await body(model)
    }

    /// Unloads every idle entry past its keep-alive; returns their keys.
    @discardableResult
    public func evictExpired() async -> [CacheKey] {
        var expired: [CacheKey] = []
        for id in ledger.expired(at: now()) {
            guard let key = keys[id], let model = entries.removeValue(forKey: key) else { continue }
            try? ledger.markUnloaded(id)
            expired.append(key)
            counters.expirations += 1
            await loader.unload(model, key: key)
        }
        if !expired.isEmpty { wakeWaiters() }
        return expired
    }

    /// Unloads `key` once nothing uses it.
    public func unload(_ key: CacheKey) async {
        while ledger.resident(key.policyID).map({ $0.inFlight > 0 }) == true {
            await waitForChange()
        }
        guard let model = entries.removeValue(forKey: key) else { return }
        try? ledger.markUnloaded(key.policyID)
        await loader.unload(model, key: key)
        wakeWaiters()
    }

    public var stats: CacheStats {
        var stats = counters
        stats.residentBytes = ledger.device(Self.device)?.residentBytes ?? 0
        stats.entries = ledger.residents.compactMap { keys[$0.id] }
        return stats
    }

    // MARK: Loading

    private func performLoad(_ key: CacheKey) async throws -> Loader.Model {
        var spec = try await loader.spec(for: key)
        spec.id = key.policyID
        spec.device = Self.device
        keys[spec.id] = key
        ledger.register(spec)
        var approved = false
        while true {
            switch ledger.plan(load: spec.id, at: now()) {
            case .resident:
                if let model = entries[key] { return model }
                await waitForChange()
            case .load(let plan):
                if !plan.evictions.isEmpty && !approved, let onPressure {
                    let pressure = MemoryPressure(key: key, requested: plan.bytes, available: plan.freeBefore,
                                                  victims: plan.evictions.compactMap { keys[$0.model] })
                    guard await onPressure(pressure) else { throw ModelCacheError.pressureRefused(key) }
                    approved = true
                    continue  // the world may have moved while the handler ran
                }
                return try await carryOut(plan, key: key)
            case .wait(let plan):
                let soonest = plan.waitingFor.compactMap { blocker -> Duration? in
                    if case .minResidency(let remaining) = blocker.reason { return remaining }
                    return nil
                }.min()
                if let soonest { wakeWaiters(after: soonest) }
                await waitForChange()
            case .reject(let rejection):
                throw ModelCacheError.rejected(rejection.description)
            }
        }
    }

    /// Commits the plan in the ledger first, so concurrent plans see the memory as taken while
    /// the victims unload and the target loads, then does the slow work.
    private func carryOut(_ plan: LoadPlan, key: CacheKey) async throws -> Loader.Model {
        var victims: [(CacheKey, Loader.Model)] = []
        for eviction in plan.evictions {
            try ledger.markUnloaded(eviction.model)
            if let victimKey = keys[eviction.model], let model = entries.removeValue(forKey: victimKey) {
                victims.append((victimKey, model))
            }
        }
        try ledger.markLoaded(plan.model, on: plan.device, at: now())
        try ledger.beginRequest(plan.model, at: now())
        for (victimKey, model) in victims {
            await loader.unload(model, key: victimKey)
            counters.evictions += 1
        }
        do {
            let model = try await loader.load(key)
            try? ledger.endRequest(plan.model, at: now())
            entries[key] = model
            counters.loads += 1
            wakeWaiters()
            return model
        } catch {
            try? ledger.markUnloaded(plan.model)
            counters.loadFailures += 1
            wakeWaiters()
            throw error
        }
    }

    /// Loads waiting for memory to be released; tests synchronise on it.
    var waiterCount: Int { waiters.count }

    private func waitForChange() async {
        await withCheckedContinuation { waiters.append($0) }
    }

    private func wakeWaiters() {
        let current = waiters
        waiters.removeAll()
        for waiter in current { waiter.resume() }
    }

    private func wakeWaiters(after delay: Duration) {
        Task {
            try? await Task.sleep(for: delay)
            self.wakeWaiters()
        }
    }
}
