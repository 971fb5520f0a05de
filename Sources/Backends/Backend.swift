import Devices
import VRAMPolicy

/// Brings one model in and out of memory through the server that holds it.
///
/// A backend belongs to one configured model. The broker decides when to call ``load(on:)`` and
/// ``unload()``; the backend does it, reports what the model really occupies, and reports on
/// ``exits`` whenever a process it started ends, requested or not.
public protocol Backend: Sendable {
    /// The model this backend serves.
    var model: ModelID { get }

    /// Who decides when the model is in memory.
    var management: BackendManagement { get }

    /// Every end of a process this backend started: unloads (``BackendExit/expected``) and
    /// crashes alike, reported as soon as the process is reaped and the backend no longer
    /// counts it as loaded.
    var exits: AsyncStream<BackendExit> { get }

    /// Brings the model into memory on `placement` and returns once it serves requests.
    ///
    /// - Throws: ``BackendError`` when it does not become ready; nothing it started is left running.
    func load(on placement: Placement) async throws -> LoadedModel

    /// Takes the model out of memory and waits until the device shows the memory returned (or
    /// the wait times out, which is logged and reported, not thrown).
    func unload() async throws -> UnloadReport

    /// Asks the server whether it serves.
    func health() async -> BackendHealth

    /// Measures what the loaded model occupies on its device: the most it has held since it was
    /// loaded where the device reports a peak, else what it holds now; `nil` when not loaded or
    /// when the device cannot attribute memory.
    func measuredFootprint() async throws -> UInt64?

    /// The root of the process tree this backend runs now, from the moment it is spawned (so
    /// while it still loads); `nil` for backends that start no process of vramd's.
    var processID: Int32? { get async }
}

extension Backend {
    public var processID: Int32? { get async { nil } }
}

/// Who decides when a model is in memory.
public struct BackendManagement: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case vramd
        case selfManaged
        case external
    }

    private let kind: Kind

    /// vramd loads and evicts it (`process`, `http`).
    public static let vramd = BackendManagement(kind: .vramd)
    /// vramd loads it but the server runs its own eviction too (`ollama`): the planner pins it
    /// and counts its memory as the server reports it.
    public static let selfManaged = BackendManagement(kind: .selfManaged)
    /// vramd only routes to it (`external`); its memory is foreign.
    public static let external = BackendManagement(kind: .external)

    public var description: String {
        switch kind {
        case .vramd: "vramd"
        case .selfManaged: "self-managed"
        case .external: "external"
        }
    }
}

/// Where the broker placed a model.
public struct Placement: Sendable {
    /// The configured device.
    public var device: DeviceID
    /// The probe of that device, used to measure the model and to see memory returned.
    public var probe: any DeviceProbe
    /// The value for `CUDA_VISIBLE_DEVICES` (the GPU's index or UUID), `nil` for the host and
    /// simulated devices.
    public var cudaVisibleDevices: String?

    public init(device: DeviceID, probe: any DeviceProbe, cudaVisibleDevices: String? = nil) {
        self.device = device
        self.probe = probe
        self.cudaVisibleDevices = cudaVisibleDevices
    }
}

/// A model that finished loading.
public struct LoadedModel: Sendable {
    /// The model that loaded.
    public var model: ModelID
    /// The device it was placed on.
    public var device: DeviceID
    /// Where to send the model's requests: scheme, host and port, no trailing slash.
    public var endpoint: String
    /// The root process vramd started for it, if it started one: pass it to
    /// ``Devices/DeviceProbe/account(cap:managedRoots:externallyManaged:)`` as vramd's own.
    public var pid: Int32?
    /// What the model occupies on its device right after it became ready, in bytes; `nil` when
    /// the device cannot say.
    public var footprint: UInt64?
    /// From the start of the load to the first successful readiness check.
    public var loadDuration: Duration

    public init(model: ModelID, device: DeviceID, endpoint: String, pid: Int32? = nil, footprint: UInt64? = nil, loadDuration: Duration) {
        self.model = model
        self.device = device
        self.endpoint = endpoint
        self.pid = pid
        self.footprint = footprint
        self.loadDuration = loadDuration
    }
}

/// What an unload did.
public struct UnloadReport: Sendable {
    /// Whether the model was loaded when asked.
    public var wasLoaded: Bool
    /// How the process ended, for backends that stop one.
    public var exit: ExitStatus?
    /// The most the model occupied while loaded, where the device keeps a high-water mark;
    /// worth recording in the ``FootprintStore``.
    public var peakFootprint: UInt64?
    /// Whether the device showed the memory returned before the wait timed out.
    public var memoryReturned: Bool
    /// How long the wait for the memory took.
    public var memoryWait: Duration

    public init(wasLoaded: Bool, exit: ExitStatus? = nil, peakFootprint: UInt64? = nil, memoryReturned: Bool, memoryWait: Duration = .zero) {
        self.wasLoaded = wasLoaded
        self.exit = exit
        self.peakFootprint = peakFootprint
        self.memoryReturned = memoryReturned
        self.memoryWait = memoryWait
    }
}

/// The end of a process a backend started.
public struct BackendExit: Sendable, CustomStringConvertible {
    /// The model whose process ended.
    public var model: ModelID
    /// The process that ended (the root of its process group).
    public var pid: Int32
    /// How it ended.
    public var status: ExitStatus
    /// Whether vramd asked for it (an unload, a failed load's cleanup). An unexpected exit means
    /// the model is gone: mark it unloaded and free its memory in the ledger.
    public var expected: Bool
    /// The last lines the process printed.
    public var lastLines: [String]
    /// The file with all of its output, when one is kept.
    public var logFile: String?

    public var description: String {
        let tail = lastLines.suffix(5).map { "  | \($0)" }.joined(separator: "\n")
        return "\(model) (pid \(pid)) \(status)\(expected ? "" : " unexpectedly")" + (tail.isEmpty ? "" : ":\n\(tail)")
    }
}

/// Whether a server answers its health check.
public struct BackendHealth: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case healthy
        case notLoaded
        case unhealthy(String)
    }

    private let kind: Kind

    /// The server answered its health check with 2xx.
    public static let healthy = BackendHealth(kind: .healthy)
    /// Nothing is running to ask.
    public static let notLoaded = BackendHealth(kind: .notLoaded)
    /// The server answered otherwise, or not at all; `reason` says how.
    public static func unhealthy(_ reason: String) -> BackendHealth { BackendHealth(kind: .unhealthy(reason)) }

    /// Whether requests can be routed to it.
    public var isHealthy: Bool { kind == .healthy }

    public var description: String {
        switch kind {
        case .healthy: "healthy"
        case .notLoaded: "not loaded"
        case .unhealthy(let reason): "unhealthy: \(reason)"
        }
    }
}
