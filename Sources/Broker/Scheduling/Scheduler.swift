import Backends
import Devices
import Foundation
import Logging
import VRAMConfig
import VRAMPolicy

/// The heart of `vramd serve`. A request's path, top to bottom: ``acquire(_:priority:)``
/// resolves the model, queues (bounded), and loops until the model is ready with a free slot:
/// a model that is not resident is planned for, its victims unloaded and it is loaded, once,
/// however many requests wait for it. The caller proxies the request and releases the
/// ``Lease``, which touches the model and wakes whoever waits.
public actor Scheduler {
    let settings: BrokerSettings
    var config: Config { didSet { slots.serialized = Self.serialized(config) } }
    var ledger: Ledger
    var runtimes: [ModelID: ModelRuntime] = [:]
    let probes: [DeviceID: any DeviceProbe]
    let footprints: FootprintStore?
    let backendFactory: @Sendable (ModelConfig) -> (any Backend)?
    let logger: Logger
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant
    var queued = 0
    var sequence = 0
    /// The loads under way, and the devices and exclusive groups they hold.
    var loads = LoadGate()
    /// Requests running per device, for devices that serve one at a time.
    private var slots: DeviceSlots
    /// Which model usually follows which (`policy.prewarm`), and when each file was last warmed.
    var successors = Successors()
    var warmedAt: [ModelID: Instant] = [:]
    /// Which resident models other models' loads wait on (``Contention``).
    var contention = Contention()
    var waiters: [Int: Waiter] = [:]
    /// The one timer that ends waits at their deadline, and when it is due.
    var deadlineTimer: (due: ContinuousClock.Instant, task: Task<Void, Never>)?
    /// How many times a deadline timer was set: what a test compares with the waits begun.
    var deadlineTimersSet = 0
    /// When the earliest ``wake(after:)`` still to come is due.
    var nextWake: ContinuousClock.Instant?
    var exitWatchers: [ModelID: Task<Void, Never>] = [:]
    var shuttingDown = false
    var stats = SchedulerStats()
    /// Requests waiting inside ``acquire(_:priority:)``, per model (`/v1/status`).
    var waiting: [ModelID: Int] = [:]
    /// Saves and restores llama-server's prompt caches across swaps (`prompt_cache: true`).
    var promptCache: PromptCache?
    /// Events and metrics (`/v1/events`, `/metrics`).
    public nonisolated let observer = SchedulerObserver()

    /// - Parameters:
    ///   - footprint: the bytes to plan with for a model before it has been measured.
    ///   - backendFactory: makes the backend of a model (`nil` for models without one).
    public init(config: Config, probes: [DeviceID: any DeviceProbe], footprints: FootprintStore?,
                footprint: (ModelConfig) throws -> (Int64, FootprintSource),
                backendFactory: @escaping @Sendable (ModelConfig) -> (any Backend)?, logger: Logger) throws {
        self.config = config
        self.slots = DeviceSlots(serialized: Self.serialized(config))
        self.settings = config.broker
        self.probes = probes
        self.footprints = footprints
        self.backendFactory = backendFactory
        self.logger = logger
        self.origin = clock.now
        var specs: [ModelSpec] = []
        var runtimes: [ModelID: ModelRuntime] = [:]
        for model in config.models {
            let (bytes, source) = try footprint(model)
            specs.append(model.spec(memory: bytes))
            runtimes[model.id] = ModelRuntime(config: model, backend: backendFactory(model), footprint: bytes, source: source)
        }
        self.runtimes = runtimes
        let devices = config.devices.map { DeviceSpec(id: $0.id, capacity: $0.capacity ?? 0, cushion: $0.cushion) }
        self.ledger = Ledger(devices: devices, models: specs, options: config.policy)
    }

    var now: Instant { ledgerInstant(clock.now) }

    /// `instant` as the ledger counts time, from the scheduler's start.
    func ledgerInstant(_ instant: ContinuousClock.Instant) -> Instant {
        Instant(nanoseconds: origin.duration(to: instant).nanoseconds)
    }

    // MARK: The request path

    /// Waits until `name` is loaded with a free slot for this request, loading it if needed.
    ///
    /// - Parameter priority: the request's priority (0...4); capped at the model's own.
    /// - Throws: ``BrokerError`` (not found, queue full or timed out, insufficient memory,
    ///   load failures); `CancellationError` when the client went away.
    public func acquire(_ name: String, priority requested: Int? = nil) async throws -> Lease {
        let id = try resolve(name)
        guard var runtime = runtimes[id], runtime.backend != nil else {
            throw BrokerError.badRequest("model '\(id)' has no backend configured", model: id.rawValue)
        }
        if shuttingDown { throw BrokerError.shuttingDown() }
        guard queued < settings.queueMax else {
            stats.rejectedQueueFull += 1
            observer.publish(.rejected(id, reason: "queue_full"))
            throw BrokerError.queueFull(id.rawValue, limit: settings.queueMax)
        }
        let priority = min(requested ?? runtime.config.priority, runtime.config.priority)
        queued += 1
        waiting[id, default: 0] += 1
        stats.requests += 1
        sequence += 1
        let ticket = sequence
        let enqueued = clock.now
        let deadline = enqueued.advanced(by: settings.queueTimeout)
        defer {
            queued -= 1
            if let count = waiting[id], count > 1 { waiting[id] = count - 1 } else { waiting[id] = nil }
            // The first in line leaving without a slot (it timed out, or its client left, maybe
            // just after a release woke it alone): whoever is next may go now.
            let handsOn = withRuntime(id) { runtime in
                let wasFirst = runtime.pending.entries.first?.ticket == ticket
                runtime.pending.remove(ticket: ticket)
                return wasFirst && !runtime.pending.isEmpty
            }
            if handsOn == true { notifyChange() }
        }
        var inLine = false
        // The load this request last waited on: if it failed, its error is this request's answer
        // (a load failure wakes the waiters before the error reaches them, so the state alone
        // would read as "failed, try again" and the request would retry until its deadline).
        var joinedLoad: Task<Void, any Error>?
        while true {
            try Task.checkCancellation()
            if !inLine {
                // In line from the start, whatever the model's state: requests waiting for a
                // load are what keep the freshly loaded model from being swapped straight out
                // again (the swap quantum counts them).
                runtimes[id]?.pending.enqueue(ticket: ticket, priority: priority)
                markContendedIfWaitedOn(id)
                inLine = true
            }
            runtime = runtimes[id] ?? runtime
            switch runtime.state {
            case .ready where runtime.stale && runtime.inFlight == 0:
                try await unload(id, reason: "config changed")
            case .ready:
                let first = runtime.pending.isFirst(ticket)
                if first && !runtime.standing.draining && runtime.inFlight < runtime.config.maxConcurrency && slots.isFree(runtime.device) {
                    runtimes[id]?.pending.remove(ticket: ticket)
                    return startRequest(id, waited: enqueued.duration(to: clock.now))
                }
                try await waitForChange(until: deadline, model: id, behind: first ? nil : ticket)
            case .loading:
                // Joining a load: its failure is this request's failure too.
                joinedLoad = runtime.loadTask ?? joinedLoad
                try await waitForChange(until: deadline, model: id)
            case .unloading:
                try await waitForChange(until: deadline, model: id)
            case .unloaded, .failed:
                if let load = joinedLoad {
                    joinedLoad = nil
                    do {
                        try await load.value  // throws the failure; after a success, the model went since
                    } catch let error as BrokerError where error.code == "queue_timeout" {
                        // The load gave up at the deadline of the request that started it, which
                        // is not this request's: it starts a load of its own.
                    }
                    continue
                }
                try Task.checkCancellation()  // a load is never started for a client that left
                let task = startLoad(id)
                joinedLoad = task
                try await waitForChange(until: deadline, model: id)
            }
        }
    }

    func startRequest(_ id: ModelID, waited: Duration) -> Lease {
        let quantum = SwapQuantum(requests: settings.swapQuantumRequests, time: settings.swapQuantumTime)
        let runtime = withRuntime(id) { runtime in
            runtime.inFlight += 1
            quantum.requestStarted(&runtime.standing)
            return runtime
        }!
        successors.started(id)
        slots.start(on: runtime.device)
        try? ledger.beginRequest(id, at: now)
        stats.queueWait.record(waited)
        // Everyone in line was woken by the change that made this start possible; those that
        // looked before this one started saw they were not first. Look again while slots last.
        if !runtime.pending.isEmpty && runtime.inFlight < runtime.config.maxConcurrency { notifyChange() }
        observer.requestStarted(id, waited: waited)
        return Lease(scheduler: self, model: id, endpoint: runtime.endpoint ?? "", config: runtime.config)
    }

    /// Ends a request: the model is touched (LRU, keep-alive) and waiters are woken.
    func release(_ id: ModelID) {
        let instant = clock.now
        guard let device = withRuntime(id, { runtime in
            runtime.inFlight = max(0, runtime.inFlight - 1)
            runtime.lastUsed = instant
            return runtime.device
        }) else { return }
        slots.end(on: device)
        try? ledger.endRequest(id, at: ledgerInstant(instant))
        notifyChange()
        prewarmSuccessor(of: id)
    }

    /// `body` on the runtime of `id` in place.
    func withRuntime<T>(_ id: ModelID, _ body: (inout ModelRuntime) -> T) -> T? {
        guard let index = runtimes.index(forKey: id) else { return nil }
        return body(&runtimes.values[index])
    }

    static func serialized(_ config: Config) -> Set<DeviceID> {
        Set(config.devices.filter(\.serialize).map(\.id))
    }

    func resolve(_ name: String) throws -> ModelID {
        if let id = config.model(named: name)?.id { return id }
        // Ollama's clients name the default tag of a model explicitly.
        if name.hasSuffix(":latest"), let id = config.model(named: String(name.dropLast(7)))?.id { return id }
        let names = config.models.map(\.id.rawValue) + config.models.flatMap(\.aliases)
        throw BrokerError.modelNotFound(name, suggestion: Suggestion.closest(to: name, in: names))
    }

    // MARK: Loading

    /// Starts the load of `id`, or returns the one already running.
    @discardableResult
    func startLoad(_ id: ModelID, reason: LoadReason = .request) -> Task<Void, any Error> {
        if let task = runtimes[id]?.loadTask { return task }
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
                    firePressureHook(decision)
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
                if !plan.evictions.isEmpty { firePressureHook(decision) }
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
        do {
            logger.info("load", metadata: ["model": "\(id)", "device": "\(plan.device)", "bytes": "\(plan.bytes)",
                                           "reason": "\(runtimes[id]?.loadReason ?? .request)"])
            let loaded = try await backend.load(on: Placement(device: plan.device, probe: probe, cudaVisibleDevices: cuda))
            // Before any request is admitted, so the first one after a swap-back finds its prefix.
            if let cache = promptCache, let config = runtimes[id]?.config, let key = config.promptCacheKey(resolve: self.config.resolvePath) {
                let outcome = await cache.restore(id, endpoint: loaded.endpoint, key: key)
                stats.promptCache.restored(outcome)
                if outcome.files + outcome.failures + outcome.skipped > 0 { observer.publish(.promptCache(.promptCacheRestored, id, outcome)) }
            }
            try? ledger.endRequest(id, at: now)
            try? ledger.markReady(id, at: now)
            var runtime = runtimes[id]!
            runtime.state = .ready
            runtime.endpoint = loaded.endpoint
            runtime.pid = loaded.pid
            runtime.loadCount += 1
            runtime.standing.loaded()
            runtime.lastError = nil
            runtime.lastLoadDuration = started.duration(to: clock.now)
            if let measured = loaded.footprint.map({ Int64(clamping: $0) }), measured > 0 {
                // What its processes really hold replaces the first guess; as it serves, the
                // peak is measured again (``remeasureFootprints()``).
                runtime.footprint = measured
                runtime.footprintSource = .measured
                try? ledger.updateFootprint(id, bytes: measured)
                await footprints?.record(UInt64(measured), for: runtime.config.footprintKey)
            }
            runtimes[id] = runtime
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
