/// A device reading combined with vramd's budget cap and with what vramd's own processes hold:
/// the numbers the planner plans with.
///
/// The cap (`capacity:` in the config) bounds what vramd's models may occupy together, like the
/// per-context budgets of an execution-context scheduler; it is not a claim on the physical
/// device, so memory someone else holds is checked against what is really free, not against the
/// cap. The planner may therefore count on ``effectiveCapacity`` for vramd's models in total,
/// of which ``managed`` is taken and ``headroom`` is left.
public struct DeviceMemoryAccount: Sendable, Hashable {
    /// Physical memory of the device.
    public var total: UInt64
    /// What the device reports free now.
    public var free: UInt64
    /// The configured cap, or `total` when none was given (never above `total`).
    public var capacity: UInt64
    /// What processes vramd started hold, as the device counts it in `used`.
    public var managed: UInt64
    /// What everyone else holds: `used` less ``managed``. It enters the ledger as foreign memory.
    public var foreign: UInt64
    /// What vramd's models may occupy together: the smaller of the cap and what is not foreign.
    public var effectiveCapacity: UInt64
    /// What vramd may still load now: ``effectiveCapacity`` less ``managed``.
    public var headroom: UInt64

    /// Combines a reading with a cap and with what vramd's processes hold.
    ///
    /// - Parameters:
    ///   - reading: the device's own figures.
    ///   - cap: the configured budget, or `nil` for the whole device.
    ///   - managed: what the process trees vramd started hold, as counted in `reading.used`
    ///     (see ``ProcessTreeUsage/countedInUsed``).
    public init(reading: DeviceReading, cap: UInt64?, managed: UInt64) {
        total = reading.total
        free = reading.free
        capacity = min(cap ?? reading.total, reading.total)
        // A reading is not atomic with the per-process figures taken just after it: clamp.
        self.managed = min(managed, reading.used)
        foreign = reading.used - self.managed
        effectiveCapacity = min(capacity, reading.total - foreign)
        headroom = effectiveCapacity > self.managed ? effectiveCapacity - self.managed : 0
    }
}

extension DeviceProbe {
    /// Reads the device and accounts for the process trees vramd started.
    ///
    /// - Parameters:
    ///   - cap: the configured budget, or `nil` for the whole device.
    ///   - managedRoots: the root process of every backend vramd started on this device; their
    ///     descendants count as vramd's too.
    ///   - externallyManaged: memory vramd's models hold that no process tree shows (the simulated
    ///     device's ledger, an Ollama server's own report).
    public func account(cap: UInt64?, managedRoots: Set<Int32>, externallyManaged: UInt64 = 0) async throws -> DeviceMemoryAccount {
        let reading = try await read()
        var managed = externallyManaged
        for root in managedRoots {
            if let usage = try await usage(ofProcessTree: root) {
                managed += usage.countedInUsed
            }
        }
        return DeviceMemoryAccount(reading: reading, cap: cap, managed: managed)
    }
}
