/// Counters and latencies of the scheduler (`/v1/status`).
public struct SchedulerStats: Sendable, Codable {
    public var requests = 0
    public var loads = 0
    public var loadFailures = 0
    public var unloads = 0
    /// Evictions by the rule that chose the victim.
    public var evictions: [String: Int] = [:]
    /// Models swapped out to load another.
    public var swaps = 0
    public var rejectedQueueFull = 0
    public var queueTimeouts = 0
    public var backendFailures = 0
    public var queueWait = LatencySamples()
    public var loadTime = LatencySamples()
    public var promptCache = PromptCacheStats()

    enum CodingKeys: String, CodingKey {
        case requests, loads, unloads, evictions, swaps
        case loadFailures = "load_failures", rejectedQueueFull = "rejected_queue_full", queueTimeouts = "queue_timeouts"
        case backendFailures = "backend_failures", queueWait = "queue_wait", loadTime = "load_time"
        case promptCache = "prompt_cache"
    }
}

/// The last samples of a latency, for percentiles without unbounded memory.
public struct LatencySamples: Sendable, Codable {
    private var samples: [Double] = []
    private var next = 0
    private static let capacity = 1024

    public init() {}

    mutating func record(_ duration: Duration) {
        let seconds = duration.seconds
        if samples.count < Self.capacity {
            samples.append(seconds)
        } else {
            samples[next] = seconds
            next = (next + 1) % Self.capacity
        }
    }

    public var count: Int { samples.count }

    /// The `p`-th percentile (0...1) in seconds; 0 without samples.
    public func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
    }

    enum CodingKeys: String, CodingKey { case count, p50, p99 }

    public init(from decoder: any Decoder) throws { self.init() }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(percentile(0.5), forKey: .p50)
        try container.encode(percentile(0.99), forKey: .p99)
    }
}
