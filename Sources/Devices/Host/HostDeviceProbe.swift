/// System memory as a device: for CPU inference and unified-memory machines, and the device vramd
/// uses when a config names none.
///
/// The device's figures come from `/proc/meminfo`: total is MemTotal, free is MemAvailable (what
/// can be allocated without swapping, reclaimable cache included), used is the difference. Per
/// process, it reports the resident memory of a whole process tree.
public struct HostDeviceProbe: DeviceProbe {
    /// Where procfs is mounted; tests point it at a recorded copy.
    public var procRoot: String

    public init(procRoot: String = "/proc") {
        self.procRoot = procRoot
    }

    public func read() async throws -> DeviceReading {
        let path = "\(procRoot)/meminfo"
        return try await BlockingWork.run {
            guard let text = ProcFiles.read(path) else {
                throw DeviceProbeError("host device: cannot read \(path)")
            }
            return try Self.reading(fromMeminfo: text)
        }
    }

    public func usage(ofProcessTree root: Int32) async throws -> ProcessTreeUsage? {
        let procRoot = procRoot
        return try await BlockingWork.run {
            ProcessTree.read(root: root, procRoot: procRoot).residentUsage(procRoot: procRoot)
        }
    }

    /// The reading that a `/proc/meminfo` text describes.
    ///
    /// Kernels before 3.14 have no MemAvailable; for them MemFree + Buffers + Cached stands in, the
    /// estimate the kernel itself replaced.
    public static func reading(fromMeminfo text: String) throws -> DeviceReading {
        let fields = ProcFiles.kilobyteFields(text)
        guard let total = fields["MemTotal"] else {
            throw DeviceProbeError("host device: /proc/meminfo has no MemTotal")
        }
        let available = fields["MemAvailable"]
            ?? (fields["MemFree"] ?? 0) + (fields["Buffers"] ?? 0) + (fields["Cached"] ?? 0)
        let free = min(available, total)
        return DeviceReading(name: "host", total: total, free: free, used: total - free)
    }
}
