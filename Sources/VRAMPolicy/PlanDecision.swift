/// The outcome of ``Ledger/plan(load:at:)``.
public enum PlanDecision: Sendable, Hashable, CustomStringConvertible {
    /// The model is already resident; nothing to do.
    case resident(model: ModelID, device: DeviceID)
    /// Load on a device after evicting the listed victims (possibly none).
    case load(LoadPlan)
    /// Something busy or inside its minimum residency must finish first; plan again then.
    case wait(WaitPlan)
    /// The load cannot happen now or ever; see the reason.
    case reject(Rejection)

    public var model: ModelID {
        switch self {
        case .resident(let model, _): model
        case .load(let plan): plan.model
        case .wait(let plan): plan.model
        case .reject(let rejection): rejection.model
        }
    }

    public var description: String {
        switch self {
        case .resident(let model, let device): "\(model) is already resident on \(device)"
        case .load(let plan): plan.description
        case .wait(let plan): plan.description
        case .reject(let rejection): rejection.description
        }
    }
}

/// Why a model was chosen as a victim.
public enum EvictionReason: Sendable, Hashable, CustomStringConvertible {
    /// Rule 3: another member of the target's exclusive group.
    case exclusiveGroup(String)
    /// Rule 4: best-effort QoS models go before any tier.
    case bestEffort
    /// Rule 4: a lower or equal tier, least recently used first.
    case lowerOrSameTier
    /// Rule 4: a higher tier, because nothing else could make room and waiting would not help.
    case upwardLastResort

    /// A short machine-readable name of the rule (events, logs, metrics labels).
    public var rule: String {
        switch self {
        case .exclusiveGroup: "exclusive_group"
        case .bestEffort: "best_effort"
        case .lowerOrSameTier: "lower_or_same_tier"
        case .upwardLastResort: "upward_last_resort"
        }
    }

    public var description: String {
        switch self {
        case .exclusiveGroup(let group): "exclusive group '\(group)'"
        case .bestEffort: "best-effort QoS"
        case .lowerOrSameTier: "lower or same tier, least recently used"
        case .upwardLastResort: "higher tier, last resort"
        }
    }
}

public struct Eviction: Sendable, Hashable, CustomStringConvertible {
    public var model: ModelID
    public var device: DeviceID
    public var bytes: Int64
    /// What its eviction gives back to `device`: `bytes` less any reservation it keeps there.
    public var freed: Int64
    public var priority: Int
    public var reason: EvictionReason

    public var description: String { "\(model) (\(ByteSize.format(bytes)), priority \(priority), \(reason))" }
}

public struct LoadPlan: Sendable, Hashable, CustomStringConvertible {
    public var model: ModelID
    public var device: DeviceID
    /// The target's footprint.
    public var bytes: Int64
    public var evictions: [Eviction]
    /// Free for planning on `device` before the evictions.
    public var freeBefore: Int64
    /// Free for planning on `device` once the victims are gone and the target is loaded.
    public var freeAfter: Int64

    public var description: String {
        if evictions.isEmpty { return "load \(model) on \(device): fits (\(ByteSize.format(freeBefore)) free, needs \(ByteSize.format(bytes)))" }
        let names = evictions.map(\.model.rawValue).joined(separator: ", ")
        return "load \(model) on \(device) after evicting \(names): needs \(ByteSize.format(bytes)), \(ByteSize.format(freeBefore)) free before"
    }
}

/// A model that must finish something before it can be evicted.
public struct Blocker: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Requests in flight; an eviction waits for them to drain.
        case busy(inFlight: Int)
        /// Loaded too recently (`policy.min_residency`); evictable after `remaining`.
        case minResidency(remaining: Duration)
    }

    public var model: ModelID
    public var device: DeviceID
    public var bytes: Int64
    public var reason: Reason

    public var description: String {
        switch reason {
        case .busy(let n): "\(model) has \(n) request\(n == 1 ? "" : "s") in flight"
        case .minResidency(let remaining): "\(model) is inside its minimum residency for another \(remaining)"
        }
    }
}

public struct WaitPlan: Sendable, Hashable, CustomStringConvertible {
    public var model: ModelID
    public var device: DeviceID
    public var bytes: Int64
    public var waitingFor: [Blocker]
    public var freeBefore: Int64

    public var description: String {
        "wait to load \(model) on \(device): " + waitingFor.map(\.description).joined(separator: "; ")
    }
}

/// A model that can never be a victim for this request, and the rule that says so.
public struct ProtectedModel: Sendable, Hashable, CustomStringConvertible {
    public var model: ModelID
    public var bytes: Int64
    /// `pinned`, `guaranteed`, `coexists_with` or `upward_eviction: never`.
    public var rule: String

    public var description: String { "\(model) (\(rule))" }
}

public struct Rejection: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        case unknownModel
        case unknownDevice(DeviceID)
        /// Larger than the device could hold even empty: capacity − cushion − foreign − reservations.
        case neverFits(device: DeviceID, needed: Int64, available: Int64)
        /// Room exists only if models the rules protect left.
        case blockedByProtected(device: DeviceID, needed: Int64, freeable: Int64, protected: [ProtectedModel])
        /// A rule forbids the load itself.
        case notAllowed(rule: String, detail: String)
    }

    public var model: ModelID
    public var reason: Reason

    /// Whether the same request may succeed later without a config change: a guaranteed model
    /// holding the room leaves at its own keep-alive.
    public var retryable: Bool {
        if case .blockedByProtected(_, _, _, let protected) = reason {
            return protected.contains { $0.rule == "guaranteed" }
        }
        return false
    }

    public var description: String {
        switch reason {
        case .unknownModel: "unknown model '\(model)'"
        case .unknownDevice(let device): "\(model) names unknown device '\(device)'"
        case .neverFits(let device, let needed, let available):
            "\(model) needs \(ByteSize.format(needed)) but \(device) can hold at most \(ByteSize.format(available)) (capacity − cushion − foreign − reservations)"
        case .blockedByProtected(let device, let needed, let freeable, let protected):
            "\(model) needs \(ByteSize.format(needed)) but at most \(ByteSize.format(freeable)) can be made free on \(device); protected: "
                + protected.map(\.description).joined(separator: ", ")
        case .notAllowed(let rule, let detail): "\(model) not allowed by \(rule): \(detail)"
        }
    }
}
