import Foundation
import VRAMPolicy

/// Something the scheduler did that people watching the box want to see: a load, an eviction
/// (with the rule that chose the victim), a swap, a failure, a refused request.
///
/// Events are what `/v1/events` streams and what the status page lists. Every field but the
/// kind and the model is optional; each kind fills the ones that mean something for it.
public struct BrokerEvent: Sendable, Codable, Equatable {
    /// What happened. A struct over a string, not an enum, so new kinds break no client.
    public struct Kind: RawRepresentable, Sendable, Codable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A load started (the model's requests wait for it).
        public static let loadStarted = Kind(rawValue: "load_started")
        /// A load finished: the model is ready.
        public static let loaded = Kind(rawValue: "loaded")
        /// A model was evicted to make room; `rule` says why it was the victim.
        public static let evicted = Kind(rawValue: "evicted")
        /// Models were swapped out (`victims`) for another (`model`).
        public static let swap = Kind(rawValue: "swap")
        /// A model was unloaded for a reason other than an eviction (keep-alive, a request).
        public static let unloaded = Kind(rawValue: "unloaded")
        /// A load failed, was refused, or a loaded backend died or stopped answering.
        public static let failed = Kind(rawValue: "failed")
        /// A request was refused (`reason`: `queue_full`).
        public static let rejected = Kind(rawValue: "rejected")
        /// A model's prompt cache was saved before it was unloaded (`bytes`, `seconds`).
        public static let promptCacheSaved = Kind(rawValue: "prompt_cache_saved")
        /// A model's prompt cache was restored after its load (`bytes`, `seconds`).
        public static let promptCacheRestored = Kind(rawValue: "prompt_cache_restored")
    }

    /// Increasing within one vramd run; `Last-Event-ID` resumes after it. Set by ``EventBus``.
    public var id = 0
    /// Seconds since 1970. Set by ``EventBus``.
    public var time: Double = 0
    public var kind: Kind
    public var model: String
    public var device: String?
    public var bytes: Int64?
    /// The eviction rule (``EvictionReason/rule``) that chose this victim.
    public var rule: String?
    public var reason: String?
    /// For an eviction: the model it made room for.
    public var target: String?
    /// For a swap: the models that left.
    public var victims: [String]?
    /// For a load: how long it took.
    public var seconds: Double?
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case id, time, kind, model, device, bytes, rule, reason, victims, seconds, message
        case target = "for"
    }

    public init(kind: Kind, model: String, device: String? = nil, bytes: Int64? = nil, rule: String? = nil, reason: String? = nil,
                target: String? = nil, victims: [String]? = nil, seconds: Double? = nil, message: String? = nil) {
        self.kind = kind
        self.model = model
        self.device = device
        self.bytes = bytes
        self.rule = rule
        self.reason = reason
        self.target = target
        self.victims = victims
        self.seconds = seconds
        self.message = message
    }

    /// One line for people (logs, `vramd status --watch`, the page's list).
    public var summary: String {
        switch kind {
        case .loadStarted: "loading \(model)" + (device.map { " on \($0)" } ?? "")
        case .loaded: "loaded \(model)" + (device.map { " on \($0)" } ?? "") + (seconds.map { String(format: " in %.1fs", $0) } ?? "")
        case .evicted: "evicted \(model)" + (target.map { " for \($0)" } ?? "") + (rule.map { " (\($0))" } ?? "")
        case .swap: "swapped \((victims ?? []).joined(separator: ", ")) for \(model)"
        case .unloaded: "unloaded \(model)" + (reason.map { " (\($0))" } ?? "")
        case .failed: "\(model) failed" + (message.map { ": \($0)" } ?? "")
        case .rejected: "refused a request for \(model)" + (reason.map { " (\($0))" } ?? "")
        default: "\(kind) \(model)"
        }
    }
}

extension BrokerEvent {
    static func loadStarted(_ model: ModelID) -> BrokerEvent { BrokerEvent(kind: .loadStarted, model: model.rawValue) }

    static func loaded(_ model: ModelID, on device: DeviceID, bytes: Int64, took: Duration) -> BrokerEvent {
        BrokerEvent(kind: .loaded, model: model.rawValue, device: device.rawValue, bytes: bytes, seconds: took.seconds)
    }

    static func evicted(_ eviction: Eviction, for target: ModelID) -> BrokerEvent {
        BrokerEvent(kind: .evicted, model: eviction.model.rawValue, device: eviction.device.rawValue, bytes: eviction.bytes,
                    rule: eviction.reason.rule, reason: eviction.reason.description, target: target.rawValue)
    }

    static func swap(_ plan: LoadPlan) -> BrokerEvent {
        BrokerEvent(kind: .swap, model: plan.model.rawValue, device: plan.device.rawValue, bytes: plan.bytes,
                    victims: plan.evictions.map(\.model.rawValue))
    }

    static func unloaded(_ model: ModelID, reason: String) -> BrokerEvent {
        BrokerEvent(kind: .unloaded, model: model.rawValue, reason: reason)
    }

    static func failed(_ model: ModelID, _ message: String) -> BrokerEvent {
        BrokerEvent(kind: .failed, model: model.rawValue, message: message)
    }

    static func promptCache(_ kind: Kind, _ model: ModelID, _ outcome: PromptCache.Outcome) -> BrokerEvent {
        BrokerEvent(kind: kind, model: model.rawValue, bytes: outcome.bytes, seconds: outcome.took.seconds,
                    message: "\(outcome.files) slots" + (outcome.failures > 0 ? ", \(outcome.failures) failed" : "")
                        + (outcome.skipped > 0 ? ", \(outcome.skipped) files of other settings left alone" : ""))
    }

    static func rejected(_ model: ModelID, reason: String) -> BrokerEvent {
        BrokerEvent(kind: .rejected, model: model.rawValue, reason: reason)
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` (JSON, metrics), to the nanosecond.
    var seconds: Double { Double(nanoseconds) / 1e9 }
}
