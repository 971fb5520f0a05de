/// What kind of work a model does; it sets the default priority tier.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    case llm, tts, stt, image, embed, rerank, other

    /// The default tier for this kind: speech recognition survives longest because it is
    /// latency-critical and small; LLMs and image models are the large ones that go first.
    public var defaultPriority: Int {
        switch self {
        case .llm, .image, .other: 0
        case .embed, .rerank, .tts: 1
        case .stt: 2
        }
    }
}

/// Quality-of-service class (seed 004's Guaranteed / Burstable / BestEffort).
public enum QoS: String, Sendable, Codable, CaseIterable {
    /// Evicted before any priority tier, whatever its own priority.
    case bestEffort = "best_effort"
    /// The default: evicted by tier and LRU; may hold a `reserve` while unloaded.
    case burstable
    /// Reserves all of its memory even while unloaded and is never a victim: only its own
    /// keep-alive or an explicit unload removes it.
    case guaranteed
}

/// How long an idle model stays resident.
public enum KeepAlive: Sendable, Hashable, CustomStringConvertible {
    case forever
    case duration(Duration)

    public var description: String {
        switch self {
        case .forever: "forever"
        case .duration(let d): "\(d)"
        }
    }
}

/// Everything the policy needs to know about one configured model.
public struct ModelSpec: Sendable, Hashable {
    public var id: ModelID
    public var kind: ModelKind
    /// The footprint the planner counts for this model (declared, estimated or measured).
    public var memory: Int64
    /// 0...4; higher survives longer.
    public var priority: Int
    public var keepAlive: KeepAlive
    /// Never evicted by the planner.
    public var pinned: Bool
    public var qos: QoS
    /// Bytes held for this model while it is not resident (burstable only; guaranteed holds `memory`).
    public var reserve: Int64
    /// Models never evicted to make room for this one.
    public var coexistsWith: Set<ModelID>
    /// At most one member of a group is resident at a time.
    public var exclusiveGroup: String?
    public var maxConcurrency: Int
    /// Where it must be placed; `nil` lets the planner choose.
    public var device: DeviceID?

    public init(
        id: ModelID,
        kind: ModelKind = .other,
        memory: Int64,
        priority: Int? = nil,
        keepAlive: KeepAlive = .duration(.seconds(300)),
        pinned: Bool = false,
        qos: QoS = .burstable,
        reserve: Int64 = 0,
        coexistsWith: Set<ModelID> = [],
        exclusiveGroup: String? = nil,
        maxConcurrency: Int = 1,
        device: DeviceID? = nil
    ) {
        self.id = id
        self.kind = kind
        self.memory = memory
        self.priority = priority ?? kind.defaultPriority
        self.keepAlive = keepAlive
        self.pinned = pinned
        self.qos = qos
        self.reserve = reserve
        self.coexistsWith = coexistsWith
        self.exclusiveGroup = exclusiveGroup
        self.maxConcurrency = maxConcurrency
        self.device = device
    }

    /// The bytes this model holds on its device while it is not resident.
    public var reservedWhileUnloaded: Int64 {
        switch qos {
        case .guaranteed: memory
        case .burstable: min(reserve, memory)
        case .bestEffort: 0
        }
    }
}
