extension Ledger {
    /// Decides how to make `model` resident at `now`.
    ///
    /// Pure: the ledger does not change. Rule 1 (placement) lives here: a model's own `device`
    /// if it names one, else the device where the cheapest victim set fits.
    ///
    /// - Returns: ``PlanDecision/resident(model:device:)`` when nothing is to be done, a
    ///   ``LoadPlan`` (possibly with victims), a ``WaitPlan`` when busy or just-loaded models must
    ///   finish first, or a ``Rejection`` with the numbers or the rule.
    public func plan(load model: ModelID, at now: Instant) -> PlanDecision {
        guard let target = models[model] else {
            return .reject(Rejection(model: model, reason: .unknownModel))
        }
        if let resident = resident(model) {
            return .resident(model: model, device: resident.device)
        }
        let candidates: [DeviceState]
        if let wanted = target.device {
            guard let state = device(wanted) else {
                return .reject(Rejection(model: model, reason: .unknownDevice(wanted)))
            }
            candidates = [state]
        } else {
            candidates = devices
        }
        guard !candidates.isEmpty else {
            return .reject(Rejection(model: model, reason: .notAllowed(rule: "devices", detail: "no device is configured")))
        }

        // Rule 3 comes first: the group member leaves whatever memory says.
        var groupVictims: [Candidate] = []
        var groupBlockers: [Blocker] = []
        for member in exclusiveGroupMembers(of: target) {
            switch protection(of: ResidencyFacts(member), id: member.id, for: target, at: now) {
            case .permanent(let rule):
                return .reject(Rejection(model: model, reason: .notAllowed(
                    rule: "exclusive_group",
                    detail: "\(member.id) is the resident member of group '\(target.exclusiveGroup ?? "")' and cannot be evicted (\(rule))")))
            case .temporary(let reason):
                groupBlockers.append(Blocker(model: member.id, device: member.device, bytes: member.bytes, reason: reason))
            case nil:
                groupVictims.append(Candidate(resident: member, reason: .exclusiveGroup(target.exclusiveGroup ?? "")))
            }
        }

        // No eviction beats any eviction: when some device has room, only those are compared,
        // without looking at a single resident.
        if groupBlockers.isEmpty {
            var roomy: LoadPlan?
            for state in candidates {
                let freeBefore = freeForPlanning(on: state.id, for: model)
                let afterGroup = freeBefore + groupVictims.filter { $0.resident.device == state.id }.reduce(0) { $0 + $1.freed }
                guard afterGroup >= target.memory else { continue }
                let plan = LoadPlan(model: model, device: state.id, bytes: target.memory, evictions: groupVictims.map(\.eviction),
                                    freeBefore: freeBefore, freeAfter: afterGroup - target.memory)
                if let current = roomy, current.freeAfter >= plan.freeAfter { continue }
                roomy = plan
            }
            if let roomy { return .load(roomy) }
        }

        let outcomes = candidates.map {
            plan(target, on: $0, groupVictims: groupVictims, groupBlockers: groupBlockers, at: now)
        }
        return Self.cheapest(outcomes)
    }

    /// Rules 2, 4, 5 and 6 on one device.
    private func plan(_ target: ModelSpec, on state: DeviceState, groupVictims: [Candidate],
                      groupBlockers: [Blocker], at now: Instant) -> PlanDecision {
        let needed = target.memory
        let capacity = capacityForPlanning(on: state, for: target.id)
        if needed > capacity {
            return .reject(Rejection(model: target.id, reason: .neverFits(device: state.id, needed: needed, available: max(0, capacity))))
        }
        let freeBefore = capacity - state.residentBytes
        if !groupBlockers.isEmpty {
            return .wait(WaitPlan(model: target.id, device: state.id, bytes: needed, waitingFor: groupBlockers, freeBefore: freeBefore))
        }
        let afterGroup = freeBefore + groupVictims.filter { $0.resident.device == state.id }.reduce(0) { $0 + $1.freed }
        var available = afterGroup
        func load(_ victims: [Candidate]) -> PlanDecision {
            let freed = victims.reduce(0) { $0 + $1.freed }
            return .load(LoadPlan(model: target.id, device: state.id, bytes: needed,
                                  evictions: (groupVictims + victims).map(\.eviction),
                                  freeBefore: freeBefore, freeAfter: afterGroup + freed - needed))
        }
        if available >= needed { return load([]) }

        var lower = RankBuckets(state: state, reason: .lowerOrSameTier)
        var higher = RankBuckets(state: state, reason: .upwardLastResort)
        var lowerBlocked: [Candidate] = [], higherBlocked: [Candidate] = []
        var blockerReasons: [ModelID: Blocker.Reason] = [:]
        var protected: [ProtectedModel] = []
        let groupIDs = Set(groupVictims.map(\.resident.id))
        // The hot loop over every resident reads plain numbers; a resident is copied out only
        // when it is protected, blocked or chosen.
        for (position, facts) in state.facts.enumerated() {
            if !groupIDs.isEmpty && groupIDs.contains(state.model(at: position)) { continue }
            let isHigher = facts.rank > target.priority
            switch protection(of: facts, id: state.model(at: position), for: target, at: now) {
            case .permanent(let rule):
                protected.append(ProtectedModel(model: state.model(at: position), bytes: facts.bytes, rule: rule))
            case .temporary(let why):
                let id = state.model(at: position)
                blockerReasons[id] = why
                let reason: EvictionReason = facts.qos == .bestEffort ? .bestEffort : (isHigher ? .upwardLastResort : .lowerOrSameTier)
                let candidate = Candidate(resident: state.resident(at: position), reason: reason)
                if isHigher { higherBlocked.append(candidate) } else { lowerBlocked.append(candidate) }
            case nil:
                if isHigher { higher.append(position, facts) } else { lower.append(position, facts) }
            }
        }

        // Rule 4, first pass: best-effort and lower-or-equal tiers, LRU inside a tier.
        var victims = lower.take(until: needed, available: &available)
        if available >= needed {
            return load(Self.minimize(victims, available: available, needed: needed))
        }
        func wait(for pool: [Candidate], deficit: Int64) -> PlanDecision {
            var covered: Int64 = 0
            var blockers: [Blocker] = []
            for candidate in pool.sorted(by: Self.victimOrder) where covered < deficit {
                covered += candidate.freed
                blockers.append(Blocker(model: candidate.resident.id, device: state.id, bytes: candidate.resident.bytes,
                                        reason: blockerReasons[candidate.resident.id] ?? .busy(inFlight: 0)))
            }
            return .wait(WaitPlan(model: target.id, device: state.id, bytes: needed, waitingFor: blockers, freeBefore: freeBefore))
        }
        // Waiting for a lower tier beats evicting a higher one.
        let lowerBlockedBytes = lowerBlocked.reduce(0) { $0 + $1.freed }
        if lowerBlockedBytes >= needed - available {
            return wait(for: lowerBlocked, deficit: needed - available)
        }
        // Rule 4, last resort: higher tiers ascending (empty under `upward_eviction: never`).
        victims += higher.take(until: needed, available: &available)
        if available >= needed {
            return load(Self.minimize(victims, available: available, needed: needed))
        }
        let blockedBytes = lowerBlockedBytes + higherBlocked.reduce(0) { $0 + $1.freed }
        if blockedBytes >= needed - available {
            return wait(for: lowerBlocked + higherBlocked, deficit: needed - available)
        }
        return .reject(Rejection(model: target.id, reason: .blockedByProtected(
            device: state.id, needed: needed, freeable: available + blockedBytes,
            protected: protected.sorted { $0.model < $1.model })))
    }

    /// Rule 1: no eviction beats any eviction; then the lowest top tier evicted, the fewest
    /// bytes evicted, the most memory left free; then configuration order. Without a load,
    /// the shortest wait; without a wait, the most informative rejection.
    static func cheapest(_ outcomes: [PlanDecision]) -> PlanDecision {
        func cost(_ plan: LoadPlan) -> (Int, Int, Int64, Int64) {
            let topRank = plan.evictions.map(\.priority).max() ?? -2
            let evicted = plan.evictions.reduce(0) { $0 + $1.bytes }
            return (plan.evictions.isEmpty ? 0 : 1, topRank, evicted, -plan.freeAfter)
        }
        var best: LoadPlan?
        for case .load(let plan) in outcomes where best.map({ cost(plan) < cost($0) }) ?? true {
            best = plan
        }
        if let best { return .load(best) }
        var bestWait: WaitPlan?
        for case .wait(let plan) in outcomes where bestWait.map({ plan.waitingFor.count < $0.waitingFor.count }) ?? true {
            bestWait = plan
        }
        if let bestWait { return .wait(bestWait) }
        // Prefer the rejection that names what is in the way over a bare "too large".
        for outcome in outcomes {
            if case .reject(let rejection) = outcome, case .blockedByProtected = rejection.reason { return outcome }
        }
        return outcomes.max { lhs, rhs in
            guard case .reject(let l) = lhs, case .neverFits(_, _, let a) = l.reason,
                  case .reject(let r) = rhs, case .neverFits(_, _, let b) = r.reason else { return false }
            return a < b
        } ?? outcomes[0]
    }
}

/// Evictable residents grouped by eviction rank (best effort, then tiers 0...4), so taking
/// victims sorts only the ranks it reaches, and sorts small plain entries rather than residents.
struct RankBuckets {
    struct Entry {
        var lastUsed: Instant
        var loadedAt: Instant
        var freed: Int64
        var position: Int
    }

    private let state: DeviceState
    private let reason: EvictionReason
    private var buckets: [[Entry]] = Array(repeating: [], count: 6)

    init(state: DeviceState, reason: EvictionReason) {
        self.state = state
        self.reason = reason
    }

    mutating func append(_ position: Int, _ facts: ResidencyFacts) {
        buckets[min(max(facts.rank + 1, 0), 5)].append(
            Entry(lastUsed: facts.lastUsed, loadedAt: facts.loadedAt, freed: facts.freed, position: position))
    }

    /// Takes candidates in victim order (``Ledger/victimOrder(_:_:)``) until `available`
    /// reaches `needed`.
    func take(until needed: Int64, available: inout Int64) -> [Candidate] {
        var taken: [Candidate] = []
        for bucket in buckets where available < needed && !bucket.isEmpty {
            let ordered = bucket.sorted { a, b in
                if a.lastUsed != b.lastUsed { return a.lastUsed < b.lastUsed }
                if a.loadedAt != b.loadedAt { return a.loadedAt < b.loadedAt }
                return state.model(at: a.position) < state.model(at: b.position)
            }
            for entry in ordered {
                if available >= needed { break }
                available += entry.freed
                let resident = state.resident(at: entry.position)
                taken.append(Candidate(resident: resident, reason: resident.qos == .bestEffort ? .bestEffort : reason))
            }
        }
        return taken
    }
}
