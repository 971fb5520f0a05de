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
    /// The broker settings in force: a reload replaces those ``BrokerSettings/reloaded(from:)`` names.
    var settings: BrokerSettings
    var config: Config { didSet { slots.serialized = Self.serialized(config) } }
    var ledger: Ledger
    var runtimes: [ModelID: ModelRuntime] = [:]
    let probes: [DeviceID: any DeviceProbe]
    let footprints: FootprintStore?
    let backendFactory: @Sendable (ModelConfig) -> (any Backend)?
    let logger: Logger
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant
    /// The bounded queue of requests inside ``acquire(_:priority:)``.
    var admission: Admission
    /// The loads under way, and the devices and exclusive groups they hold.
    var loads = LoadGate()
    /// Requests running per device, for devices that serve one at a time.
    private var slots: DeviceSlots
    /// Which resident models other models' loads wait on (``Contention``).
    var contention = Contention()
    /// What usually follows what, and which files were read lately (`policy.prewarm`).
    var prewarming: Prewarming
    /// Who waits for a change, and the timers that end their waits.
    var waitRoom = WaitRoom()
    /// The backends' exit streams and failed health checks.
    var watch = BackendWatch()
    var shuttingDown = false
    var stats = SchedulerStats()
    /// `hooks.on_pressure`, when configured.
    var pressureHook: PressureHook?
    /// Saves and restores llama-server's prompt caches across swaps (`prompt_cache: true`).
    var promptCache: PromptCache?
    /// Events and metrics (`/v1/events`, `/metrics`).
    public nonisolated let observer = SchedulerObserver()
    /// The settings in force, for the routes, which read them outside the actor.
    nonisolated let live: LiveSettings

    /// - Parameters:
    ///   - footprint: the bytes to plan with for a model before it has been measured.
    ///   - backendFactory: makes the backend of a model (`nil` for models without one).
    public init(config: Config, probes: [DeviceID: any DeviceProbe], footprints: FootprintStore?,
                footprint: (ModelConfig) throws -> (Int64, FootprintSource),
                backendFactory: @escaping @Sendable (ModelConfig) -> (any Backend)?, logger: Logger) throws {
        self.config = config
        self.slots = DeviceSlots(serialized: Self.serialized(config))
        self.settings = config.broker
        self.live = LiveSettings(config.broker)
        self.admission = Admission(limit: config.broker.queueMax)
        self.prewarming = Prewarming(mode: config.broker.prewarm)
        self.pressureHook = config.broker.onPressureHook.map { PressureHook(url: $0, logger: logger) }
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
        let priority = min(requested ?? runtime.config.priority, runtime.config.priority)
        guard let ticket = admission.enter(id) else {
            stats.rejectedQueueFull += 1
            observer.publish(.rejected(id, reason: "queue_full"))
            throw BrokerError.queueFull(id.rawValue, limit: admission.limit)
        }
        stats.requests += 1
        let enqueued = clock.now
        let deadline = enqueued.advanced(by: settings.queueTimeout)
        defer {
            admission.leave(id)
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
            // Taken out of the config while this request waited: it is not served.
            guard let current = runtimes[id], !current.retiring else {
                throw BrokerError.modelNotFound(name, suggestion: nil)
            }
            runtime = current
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
        prewarming.requestStarted(id)
        slots.start(on: runtime.device)
        try? ledger.beginRequest(id, at: now)
        stats.queueWait.record(waited)
        // Everyone in line was woken by the change that made this start possible; those that
        // looked before this one started saw they were not first. Look again while slots last.
        if !runtime.pending.isEmpty && runtime.inFlight < runtime.config.maxConcurrency { notifyChange() }
        observer.requestStarted(id, waited: waited)
        return Lease(scheduler: self, model: id, device: runtime.device, endpoint: runtime.endpoint ?? "", config: runtime.config)
    }

    /// Ends a request on `device`: the model is touched (LRU, keep-alive) and waiters are woken.
    /// The device comes from the lease, so its slot is given back even when the model was
    /// retired under the request.
    func release(_ id: ModelID, on device: DeviceID?) {
        let instant = clock.now
        slots.end(on: device)
        let known = withRuntime(id) { runtime in
            runtime.inFlight = max(0, runtime.inFlight - 1)
            runtime.lastUsed = instant
            return true
        } ?? false
        try? ledger.endRequest(id, at: ledgerInstant(instant))
        notifyChange()
        if known { prewarmSuccessor(of: id) }
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
}
