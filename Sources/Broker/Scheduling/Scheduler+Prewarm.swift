import Backends
import VRAMConfig
import VRAMPolicy

/// `policy.prewarm`: the model likely to be asked for next (``Successors``) has its weight file
/// read into the page cache after each request, or with `load` is loaded when it fits without
/// evicting anything; and a load that must wait for room reads its own file meanwhile, so it is
/// not also waiting on the disk once the room is there.
struct Prewarming {
    /// How long a warmed file is taken to stay warm: it is not read again before.
    static let warmthLasts: Duration = .seconds(30)

    var mode: BrokerSettings.Prewarm
    private var successors = Successors()
    private var warmedAt: [ModelID: Instant] = [:]

    init(mode: BrokerSettings.Prewarm) {
        self.mode = mode
    }

    /// A request for `id` started: what follows what is learnt from the order of these.
    mutating func requestStarted(_ id: ModelID) {
        successors.started(id)
    }

    /// The model likely to be asked for after `id`, when prewarming is on.
    func likelyNext(after id: ModelID) -> ModelID? {
        mode == .off ? nil : successors.likelyNext(after: id)
    }

    /// Whether `id`'s file is to be read now: not when prewarming is off or it was read lately.
    mutating func shouldWarm(_ id: ModelID, now: Instant) -> Bool {
        guard mode != .off else { return false }
        if let last = warmedAt[id], now.since(last) < Self.warmthLasts { return false }
        warmedAt[id] = now
        return true
    }
}

extension Scheduler {
    /// Reads `id`'s GGUF file into the page cache in the background, unless that was done lately.
    func warmFile(of id: ModelID) {
        guard let model = runtimes[id]?.config, let path = model.ggufPath(resolve: config.resolvePath),
              prewarming.shouldWarm(id, now: now) else { return }
        Task.detached { await PageCache.warm(path) }
    }

    /// After a request for `id` ends: warms (or loads) the model that usually follows it.
    func prewarmSuccessor(of id: ModelID) {
        guard let next = prewarming.likelyNext(after: id), let runtime = runtimes[next], !runtime.retiring,
              runtime.backend != nil, runtime.state == ModelState.unloaded else { return }
        warmFile(of: next)
        guard prewarming.mode == .load, case .load(let plan) = ledger.plan(load: next, at: now), plan.evictions.isEmpty,
              loads.mayStart(plan, group: runtime.config.exclusiveGroup) else { return }
        startLoad(next, reason: .prewarm)
    }
}
