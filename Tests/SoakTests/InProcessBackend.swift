import Backends
import Broker
import Devices
import Logging
import Synchronization
import VRAMConfig
import VRAMPolicy

/// The soak's stand-in for the device and the servers: every load and unload moves real
/// accounting per device, and every rule a load or unload could break is checked at the moment
/// it happens, not after the fact.
final class Accountant: Sendable {
    struct State {
        var usedOnDevice: [DeviceID: Int64] = [:]
        var loadedOn: [ModelID: DeviceID] = [:]
        var inFlight: [ModelID: Int] = [:]
        var violations: [String] = []
        var loads = 0
        var unloads = 0
        /// The last loads and unloads, printed beside a violation so it can be read.
        var trace: [String] = []
    }

    let limits: [DeviceID: Int64]
    let sizes: [ModelID: Int64]
    let neverEvicted: Set<ModelID>
    let groups: [ModelID: String]
    private let state = Mutex(State())

    init(limits: [DeviceID: Int64], sizes: [ModelID: Int64], neverEvicted: Set<ModelID>, groups: [ModelID: String]) {
        self.limits = limits
        self.sizes = sizes
        self.neverEvicted = neverEvicted
        self.groups = groups
    }

    func load(_ model: ModelID, on device: DeviceID) {
        state.withLock { state in
            if let other = state.loadedOn[model] { state.violations.append("\(model) loaded twice (already on \(other))") }
            state.record("load \(model) on \(device)")
            if let group = groups[model], let other = state.loadedOn.keys.first(where: { $0 != model && groups[$0] == group }) {
                state.violations.append("\(model) loaded while \(other) of exclusive group \(group) is loaded; last: \(state.trace.suffix(12))")
            }
            state.loadedOn[model] = device
            state.loads += 1
            let used = state.usedOnDevice[device, default: 0] + (sizes[model] ?? 0)
            state.usedOnDevice[device] = used
            if used > limits[device] ?? 0 {
                state.violations.append("\(device) holds \(used) B after loading \(model), over its \(limits[device] ?? 0) B")
            }
        }
    }

    func unload(_ model: ModelID, allowProtected: Bool) {
        state.withLock { state in
            guard let device = state.loadedOn.removeValue(forKey: model) else { return }
            state.record("unload \(model)")
            state.unloads += 1
            state.usedOnDevice[device, default: 0] -= sizes[model] ?? 0
            if state.inFlight[model, default: 0] > 0 { state.violations.append("\(model) unloaded with requests in flight") }
            if neverEvicted.contains(model) && !allowProtected { state.violations.append("protected \(model) was unloaded") }
        }
    }

    func begin(_ model: ModelID) {
        state.withLock { state in
            if state.loadedOn[model] == nil { state.violations.append("a request on \(model) started while it was not loaded") }
            state.inFlight[model, default: 0] += 1
        }
    }

    func end(_ model: ModelID) { state.withLock { $0.inFlight[model, default: 0] -= 1 } }
    func violation(_ text: String) { state.withLock { $0.violations.append(text) } }
    var snapshot: State { state.withLock { $0 } }

    /// Protected models may leave at shutdown only.
    let shuttingDown = Mutex(false)
}

extension Accountant.State {
    mutating func record(_ event: String) {
        trace.append(event)
        if trace.count > 64 { trace.removeFirst(32) }
    }
}

/// A backend that holds memory in the accountant instead of a real server.
actor InProcessBackend: Backend {
    nonisolated let model: ModelID
    nonisolated let management = BackendManagement.vramd
    nonisolated let exits: AsyncStream<BackendExit>
    private let accountant: Accountant
    private var device: DeviceID?

    init(model: ModelID, accountant: Accountant) {
        self.model = model
        self.accountant = accountant
        exits = AsyncStream { $0.finish() }
    }

    func load(on placement: Placement) async throws -> LoadedModel {
        await Task.yield()  // loads take time: let other work interleave
        accountant.load(model, on: placement.device)
        device = placement.device
        return LoadedModel(model: model, device: placement.device, endpoint: "inprocess://\(model)", loadDuration: .zero)
    }

    func unload() async throws -> UnloadReport {
        await Task.yield()
        accountant.unload(model, allowProtected: accountant.shuttingDown.withLock { $0 })
        device = nil
        return UnloadReport(wasLoaded: true, memoryReturned: true)
    }

    func health() async -> BackendHealth { device == nil ? .notLoaded : .healthy }
    func measuredFootprint() async throws -> UInt64? { nil }
}

extension Scheduler {
    /// A scheduler on `config`'s devices, simulated, whose backends are in-process ones that
    /// account in `accountant`; it logs only what is critical.
    static func inProcess(_ config: Config, accountant: Accountant) throws -> Scheduler {
        try inProcess(config) { model in InProcessBackend(model: model.id, accountant: accountant) }
    }

    /// The same with backends of the test's own making.
    static func inProcess(_ config: Config, backends: @escaping @Sendable (ModelConfig) -> any Backend) throws -> Scheduler {
        let probes: [DeviceID: any DeviceProbe] = Dictionary(uniqueKeysWithValues: config.devices.map {
            ($0.id, SimulatedDeviceProbe(capacity: UInt64($0.capacity ?? 0)) as any DeviceProbe)
        })
        var logger = Logger(label: "soak")
        logger.logLevel = .critical
        return try Scheduler(
            config: config, probes: probes, footprints: nil,
            footprint: { model in (model.declaredMemory ?? 0, .declared) },
            backendFactory: backends,
            logger: logger)
    }
}
