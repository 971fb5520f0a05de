// The rules of the planner, one small function each, numbered as in the README.

/// Why a resident model may not be a victim right now.
enum Protection: Sendable, Hashable {
    /// Never, for this request: pinned, guaranteed, in the target's `coexists_with`, or a higher
    /// tier under `upward_eviction: never`.
    case permanent(rule: String)
    /// Not yet: requests in flight, or contended and inside the minimum residency.
    case temporary(Blocker.Reason)
}

extension Ledger {
    /// Rule 2: the models that are never victims, and those that are not victims *yet*.
    func protection(of resident: ResidencyFacts, id: @autoclosure () -> ModelID, for target: ModelSpec, at now: Instant) -> Protection? {
        if resident.pinned { return .permanent(rule: "pinned") }
        if resident.qos == .guaranteed { return .permanent(rule: "guaranteed") }
        if !target.coexistsWith.isEmpty && target.coexistsWith.contains(id()) { return .permanent(rule: "coexists_with") }
        if resident.rank > target.priority && options.upwardEviction == .never {
            return .permanent(rule: "upward_eviction: never")
        }
        if resident.inFlight > 0 { return .temporary(.busy(inFlight: resident.inFlight)) }
        let age = now.since(resident.loadedAt)
        if resident.contended && age < options.minResidency && !(target.priority > resident.priority) {
            return .temporary(.minResidency(remaining: options.minResidency - age))
        }
        return nil
    }

    /// Rule 3: the resident members of the target's exclusive group, on any device.
    func exclusiveGroupMembers(of target: ModelSpec) -> [ResidentModel] {
        guard let group = target.exclusiveGroup else { return [] }
        return devices.flatMap { device in
            device.residents.values.filter { $0.id != target.id && $0.exclusiveGroup == group }
        }.sorted(by: ResidentModel.lruOrder)
    }

    /// Rule 4: best-effort models rank below every tier; the rest rank by priority.
    static func evictionRank(of resident: ResidentModel) -> Int {
        resident.qos == .bestEffort ? -1 : resident.priority
    }

    /// Rule 4: the order victims are taken in: lowest rank first, least recently used inside a rank.
    static func victimOrder(_ a: Candidate, _ b: Candidate) -> Bool {
        if a.rank != b.rank { return a.rank < b.rank }
        return ResidentModel.lruOrder(a.resident, b.resident)
    }

    /// Rule 5: drops every victim whose removal still leaves enough room, trying the highest
    /// ranks (and inside a rank the most recently used) first, so the set is minimal and no tier
    /// is evicted that a lower one could have covered.
    static func minimize(_ victims: [Candidate], available: Int64, needed: Int64) -> [Candidate] {
        var available = available
        var dropped = Set<ModelID>()
        for victim in victims.sorted(by: { victimOrder($1, $0) }) where available - victim.freed >= needed {
            available -= victim.freed
            dropped.insert(victim.resident.id)
        }
        return dropped.isEmpty ? victims : victims.filter { !dropped.contains($0.resident.id) }
    }

    /// Rule 7: idle models past their keep-alive, the longest expired first, for a reaper to unload.
    public func expired(at now: Instant) -> [ModelID] {
        devices.flatMap(\.residents.values)
            .compactMap { resident -> (ModelID, Instant)? in
                guard resident.inFlight == 0, let expiry = keepAliveExpiry(of: resident.id), expiry <= now else { return nil }
                return (resident.id, expiry)
            }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map(\.0)
    }

    /// When an idle resident model's keep-alive runs out; `nil` for `forever` or unknown models.
    public func keepAliveExpiry(of model: ModelID) -> Instant? {
        guard let resident = resident(model), let spec = models[model] else { return nil }
        switch spec.keepAlive {
        case .forever: return nil
        case .duration(let duration): return resident.lastUsed.advanced(by: duration)
        }
    }
}

/// A resident model considered as a victim, with what the rules need to order it.
struct Candidate: Sendable {
    var resident: ResidentModel
    var rank: Int
    var reason: EvictionReason

    init(resident: ResidentModel, reason: EvictionReason) {
        self.resident = resident
        self.rank = Ledger.evictionRank(of: resident)
        self.reason = reason
    }

    /// What evicting it gives back to its device: its bytes less the reservation it keeps there
    /// once unloaded (a burstable `reserve`).
    var freed: Int64 { resident.bytes - resident.reservedHere }

    var eviction: Eviction {
        Eviction(model: resident.id, device: resident.device, bytes: resident.bytes, freed: freed,
                 priority: resident.priority, reason: reason)
    }
}
