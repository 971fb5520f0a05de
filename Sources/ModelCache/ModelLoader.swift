import VRAMPolicy

/// What a cache entry is for; one model file may be open once per mode (seed 002).
public struct CacheMode: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let chat = CacheMode("chat")
    public static let embed = CacheMode("embed")
    public static let rerank = CacheMode("rerank")

    public var description: String { rawValue }

    var kind: ModelKind {
        switch self {
        case .embed: .embed
        case .rerank: .rerank
        default: .llm
        }
    }
}

/// A cache entry's key: the model and the mode it is opened in.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    public var model: ModelID
    public var mode: CacheMode

    public init(_ model: ModelID, mode: CacheMode = .chat) {
        self.model = model
        self.mode = mode
    }

    public var description: String { "\(model)#\(mode)" }

    /// The name the policy knows this entry by.
    var policyID: ModelID { ModelID(description) }
}

/// How an app brings its models in and out of memory.
public protocol ModelLoader: Sendable {
    associatedtype Model: Sendable

    /// The footprint to plan with before loading (a declared size or a GGUF estimate) and the
    /// policy attributes of the entry: its priority, keep-alive, QoS and so on.
    func spec(for key: CacheKey) async throws -> ModelSpec

    func load(_ key: CacheKey) async throws -> Model

    /// Frees what ``load(_:)`` took. Called at most once per loaded model.
    func unload(_ model: Model, key: CacheKey) async
}

/// Seed 004's memory-pressure signal: a load needs room that only evictions (or waiting) give.
public struct MemoryPressure: Sendable, Hashable {
    public var key: CacheKey
    /// Bytes the new entry needs.
    public var requested: Int64
    /// Bytes free for it without evicting anything.
    public var available: Int64
    /// The entries the plan would evict.
    public var victims: [CacheKey]
}

public enum ModelCacheError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The policy refused the load; the reason says why (never fits, protected models, a rule).
    case rejected(String)
    /// The pressure handler declined the evictions.
    case pressureRefused(CacheKey)

    public var description: String {
        switch self {
        case .rejected(let reason): "cannot load: \(reason)"
        case .pressureRefused(let key): "the memory-pressure handler refused the evictions needed to load \(key)"
        }
    }
}

/// What the cache has done so far (seed 002's get_stats).
public struct CacheStats: Sendable, Hashable {
    public var hits = 0
    public var misses = 0
    public var loads = 0
    public var loadFailures = 0
    public var evictions = 0
    public var expirations = 0
    public var residentBytes: Int64 = 0
    public var entries: [CacheKey] = []
}
