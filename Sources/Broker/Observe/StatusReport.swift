import Foundation
import VRAMConfig

/// Everything `GET /v1/status` says: the devices and what holds their memory, every model's
/// state, the queue and the scheduler's counters. The page, `vramd status` and the tests all
/// read this one type.
///
/// Times are seconds since 1970 (`*_at`) or seconds from ``generatedAt`` (`*_in`); sizes are
/// bytes.
public struct StatusReport: Sendable, Codable, Equatable {
    public var generatedAt: Double
    public var devices: [Device]
    public var models: [Model]
    public var queue: Queue
    public var scheduler: Stats

    enum CodingKeys: String, CodingKey {
        case devices, models, queue, scheduler
        case generatedAt = "generated_at"
    }

    public init(generatedAt: Double, devices: [Device], models: [Model], queue: Queue, scheduler: Stats) {
        self.generatedAt = generatedAt
        self.devices = devices
        self.models = models
        self.queue = queue
        self.scheduler = scheduler
    }

    /// One device: what it reports, and how vramd's ledger divides it.
    public struct Device: Sendable, Codable, Equatable {
        public var id: String
        /// `simulated`, `host` or `nvidia`.
        public var kind: String
        /// The device's own name, when it could be read.
        public var name: String?
        /// Physical memory, as the device reports it (`nil` when the reading failed).
        public var total: Int64?
        /// Free memory, as the device reports it now.
        public var free: Int64?
        /// What vramd plans with: the cap, or what is not foreign.
        public var capacity: Int64
        public var cushion: Int64
        /// Memory held by processes vramd did not start.
        public var foreign: Int64
        /// vramd's resident models.
        public var resident: Int64
        /// Reservations of models that are not resident.
        public var reserved: Int64
        /// resident + reserved + foreign + cushion.
        public var plannedUse: Int64
        /// What a load could get without evicting anything.
        public var freeForPlanning: Int64
        /// The resident models, least recently used first.
        public var residents: [Share]
        /// Memory held for models that are not resident (guaranteed QoS, `reserve`).
        public var reservations: [Share]

        enum CodingKeys: String, CodingKey {
            case id, kind, name, total, free, capacity, cushion, foreign, resident, reserved, residents, reservations
            case plannedUse = "planned_use", freeForPlanning = "free_for_planning"
        }
    }

    /// A model's part of a device.
    public struct Share: Sendable, Codable, Equatable {
        public var model: String
        public var bytes: Int64
        public var priority: Int
    }

    /// One configured model.
    public struct Model: Sendable, Codable, Equatable {
        public var id: String
        public var kind: String
        public var aliases: [String]
        public var priority: Int
        public var qos: String
        public var pinned: Bool
        public var state: ModelState
        public var device: String?
        public var footprint: Int64
        /// `declared`, `estimated` or `measured`.
        public var footprintSource: FootprintSource
        public var inFlight: Int
        /// Requests waiting for this model (for its load or for a slot).
        public var queued: Int
        public var lastUsedAt: Double?
        public var keepAliveExpiresIn: Double?
        public var keepAliveExpiresAt: Double?
        public var loadCount: Int
        public var lastLoadSeconds: Double?
        public var lastError: String?
        /// `process`, `http`, `ollama`, `external`, or `nil` without a backend.
        public var backend: String?

        enum CodingKeys: String, CodingKey {
            case id, kind, aliases, priority, qos, pinned, state, device, footprint, queued, backend
            case footprintSource = "footprint_source", inFlight = "in_flight", lastUsedAt = "last_used_at"
            case keepAliveExpiresIn = "keep_alive_expires_in", keepAliveExpiresAt = "keep_alive_expires_at"
            case loadCount = "load_count", lastLoadSeconds = "last_load_seconds", lastError = "last_error"
        }
    }

    public struct Queue: Sendable, Codable, Equatable {
        /// Requests waiting, for any model.
        public var waiting: Int
        /// `queue.max`: past it, requests are refused with 429.
        public var max: Int
    }

    /// The scheduler's counters since it started.
    public struct Stats: Sendable, Codable, Equatable {
        public var requests: Int
        public var loads: Int
        public var loadFailures: Int
        public var unloads: Int
        /// Evictions by the rule that chose the victim.
        public var evictions: [String: Int]
        public var swaps: Int
        /// Requests refused with 429 because the queue was full.
        public var rejectedQueueFull: Int
        public var queueTimeouts: Int
        public var backendFailures: Int
        public var queueWait: Latency
        public var loadTime: Latency
        public var promptCache: PromptCacheStats

        enum CodingKeys: String, CodingKey {
            case requests, loads, unloads, evictions, swaps
            case loadFailures = "load_failures", rejectedQueueFull = "rejected_queue_full", queueTimeouts = "queue_timeouts"
            case backendFailures = "backend_failures", queueWait = "queue_wait", loadTime = "load_time"
            case promptCache = "prompt_cache"
        }

        init(_ stats: SchedulerStats) {
            requests = stats.requests
            loads = stats.loads
            loadFailures = stats.loadFailures
            unloads = stats.unloads
            evictions = stats.evictions
            swaps = stats.swaps
            rejectedQueueFull = stats.rejectedQueueFull
            queueTimeouts = stats.queueTimeouts
            backendFailures = stats.backendFailures
            queueWait = Latency(stats.queueWait)
            loadTime = Latency(stats.loadTime)
            promptCache = stats.promptCache
        }
    }

    /// Percentiles over the last samples, in seconds.
    public struct Latency: Sendable, Codable, Equatable {
        public var count: Int
        public var p50: Double
        public var p99: Double

        init(_ samples: LatencySamples) {
            count = samples.count
            p50 = samples.percentile(0.5)
            p99 = samples.percentile(0.99)
        }
    }

    /// The encoder `/v1/status` uses (sorted keys, so the output is stable).
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
