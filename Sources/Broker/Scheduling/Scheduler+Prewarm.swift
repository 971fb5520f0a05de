import Backends
import VRAMConfig
import VRAMPolicy

/// `policy.prewarm`: the model likely to be asked for next (``Successors``) has its weight file
/// read into the page cache after each request, or with `load` is loaded when it fits without
/// evicting anything; and a load that must wait for room reads its own file meanwhile, so it is
/// not also waiting on the disk once the room is there.
extension Scheduler {
    /// How long a warmed file is taken to stay warm: it is not asked for again before.
    static let warmthLasts: Duration = .seconds(30)

    /// Reads `id`'s GGUF file into the page cache in the background, unless that was done lately.
    func warmFile(of id: ModelID) {
        guard settings.prewarm != .off, let model = runtimes[id]?.config,
              let path = model.ggufPath(resolve: config.resolvePath) else { return }
        let instant = now
        if let last = warmedAt[id], instant.since(last) < Self.warmthLasts { return }
        warmedAt[id] = instant
        Task.detached { await PageCache.warm(path) }
    }

    /// After a request for `id` ends: warms (or loads) the model that usually follows it.
    func prewarmSuccessor(of id: ModelID) {
        guard settings.prewarm != .off, let next = successors.likelyNext(after: id), let runtime = runtimes[next],
              runtime.backend != nil, runtime.state == ModelState.unloaded else { return }
        warmFile(of: next)
        guard settings.prewarm == .load, case .load(let plan) = ledger.plan(load: next, at: now), plan.evictions.isEmpty,
              loads.mayStart(plan, group: runtime.config.exclusiveGroup) else { return }
        startLoad(next, reason: .prewarm)
    }
}
