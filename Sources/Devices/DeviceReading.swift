/// One reading of a device's memory, in bytes.
///
/// A reading is a snapshot: the probe that made it may be asked again a millisecond later and
/// answer differently. `used` is what the device reports as taken, by anyone; `free` is what a new
/// allocation could get now.
public struct DeviceReading: Sendable, Hashable {
    /// The device's own name (`NVIDIA GeForce RTX 4090`, `host`).
    public var name: String
    /// A stable identifier where the device has one (`GPU-…` for NVIDIA), `nil` otherwise.
    public var uuid: String?
    /// Physical memory of the device.
    public var total: UInt64
    /// Memory a new allocation could get now.
    public var free: UInt64
    /// Memory the device reports as taken.
    public var used: UInt64
    /// Memory per process, where the device can attribute it (NVML, nvidia-smi); `nil` where it
    /// cannot (the host device, whose per-process figure comes from
    /// ``DeviceProbe/usage(ofProcessTree:)`` instead).
    public var processes: [ProcessMemory]?

    public init(name: String, uuid: String? = nil, total: UInt64, free: UInt64, used: UInt64, processes: [ProcessMemory]? = nil) {
        self.name = name
        self.uuid = uuid
        self.total = total
        self.free = free
        self.used = used
        self.processes = processes
    }
}

/// What one process holds on a device.
public struct ProcessMemory: Sendable, Hashable {
    /// The process, in the host's pid namespace.
    public var pid: Int32
    /// Bytes held, or `nil` where the driver will not say (NVML reports "not available" without
    /// the privileges to see other users' processes, and always under WDDM).
    public var bytes: UInt64?

    public init(pid: Int32, bytes: UInt64?) {
        self.pid = pid
        self.bytes = bytes
    }
}

/// What a process and all its descendants hold on one device.
public struct ProcessTreeUsage: Sendable, Hashable {
    /// The processes found in the tree, root first.
    public var pids: [Int32]
    /// What the tree occupies: the figure to plan with and to remember as a footprint.
    public var bytes: UInt64
    /// The part of ``bytes`` that the device also counts in ``DeviceReading/used``.
    ///
    /// On a GPU they are the same. On the host, file pages a process maps (llama.cpp maps the model
    /// file) are resident and so in its RSS, but the kernel counts them as reclaimable page cache,
    /// inside MemAvailable; only anonymous and shared-memory pages are in "used". Foreign usage is
    /// `used` less this figure, so it must not subtract what `used` never contained.
    public var countedInUsed: UInt64
    /// The most the tree has held since its processes started, where the device keeps a high-water
    /// mark (the host's VmHWM); `nil` elsewhere.
    public var peakBytes: UInt64?

    public init(pids: [Int32], bytes: UInt64, countedInUsed: UInt64? = nil, peakBytes: UInt64? = nil) {
        self.pids = pids
        self.bytes = bytes
        self.countedInUsed = countedInUsed ?? bytes
        self.peakBytes = peakBytes
    }
}
