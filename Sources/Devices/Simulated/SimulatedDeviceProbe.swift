import Synchronization

/// A device that exists only in vramd's books: capacity from the config, usage from outside.
///
/// Policy tests and demos run on it. Whatever vramd's ledger believes is loaded is reported back
/// through ``setUsage(_:)`` or ``setUsage(_:ofProcess:)``; foreign memory can be injected the same
/// way, to see the planner step around it.
public final class SimulatedDeviceProbe: DeviceProbe {
    private struct State {
        var unattributed: UInt64 = 0
        var byProcess: [Int32: UInt64] = [:]
    }

    /// The configured capacity in bytes.
    public let capacity: UInt64
    /// The name readings carry.
    public let name: String
    private let state = Mutex(State())

    public init(capacity: UInt64, name: String = "simulated") {
        self.capacity = capacity
        self.name = name
    }

    /// Sets the usage that belongs to no process (the ledger's total, or foreign memory).
    public func setUsage(_ bytes: UInt64) {
        state.withLock { $0.unattributed = bytes }
    }

    /// Sets what one process holds; zero removes it.
    public func setUsage(_ bytes: UInt64, ofProcess pid: Int32) {
        state.withLock { $0.byProcess[pid] = bytes == 0 ? nil : bytes }
    }

    public func read() async throws -> DeviceReading {
        let (unattributed, byProcess) = state.withLock { ($0.unattributed, $0.byProcess) }
        let used = min(capacity, byProcess.values.reduce(unattributed, +))
        let processes = byProcess.sorted { $0.key < $1.key }.map { ProcessMemory(pid: $0.key, bytes: $0.value) }
        return DeviceReading(name: name, total: capacity, free: capacity - used, used: used, processes: processes)
    }

    /// The usage set for `root` alone: a simulated device has no real processes to walk.
    public func usage(ofProcessTree root: Int32) async throws -> ProcessTreeUsage? {
        let bytes = state.withLock { $0.byProcess[root] }
        return ProcessTreeUsage(pids: bytes == nil ? [] : [root], bytes: bytes ?? 0)
    }
}
