#if canImport(Glibc)
import Glibc
#endif
import Logging

/// One NVIDIA GPU as a device: its memory, and what each compute process holds on it.
public struct NvidiaDeviceProbe: DeviceProbe {
    public let selector: NvidiaDeviceSelector
    public let query: any NvidiaQuery

    public init(selector: NvidiaDeviceSelector, query: any NvidiaQuery) {
        self.selector = selector
        self.query = query
    }

    /// The best query this machine offers: NVML, else `nvidia-smi` on `PATH`.
    ///
    /// - Throws: ``DeviceProbeError`` saying that neither exists, for a config check to print when
    ///   a config names an NVIDIA device on a machine without the driver.
    public static func detectQuery(logger: Logger) async throws -> any NvidiaQuery {
        let nvmlFailure: String
        do {
            return try await NVMLQuery.open()
        } catch {
            nvmlFailure = "\(error)"
            logger.info("NVML unavailable, trying nvidia-smi", metadata: ["reason": "\(error)"])
        }
        if let path = findOnPath("nvidia-smi") {
            return NvidiaSMIQuery(executable: path)
        }
        throw DeviceProbeError(
            "nvidia device: no NVIDIA driver found (\(nvmlFailure); and no nvidia-smi on PATH). "
                + "Install the driver, or use a `host` or `simulated` device.")
    }

    public func read() async throws -> DeviceReading {
        let gpu = try await selectedGPU()
        return DeviceReading(name: gpu.name, uuid: gpu.uuid, total: gpu.total, free: gpu.free, used: gpu.used,
                             processes: gpu.processes)
    }

    /// What the tree under `root` holds on this GPU: the sum over its processes in the driver's list.
    ///
    /// The driver reports process ids of the host's pid namespace; vramd in a container without the
    /// host's pid namespace finds none of its children there and reads zero.
    public func usage(ofProcessTree root: Int32) async throws -> ProcessTreeUsage? {
        async let gpu = selectedGPU()
        let tree = try await BlockingWork.run { ProcessTree.read(root: root) }
        guard let processes = try await gpu.processes else { return nil }
        let members = Set(tree.pids)
        let mine = processes.filter { members.contains($0.pid) }
        return ProcessTreeUsage(pids: mine.map(\.pid), bytes: mine.reduce(0) { $0 + ($1.bytes ?? 0) })
    }

    private func selectedGPU() async throws -> NvidiaGPU {
        let gpus = try await query.gpus()
        guard let gpu = gpus.first(where: selector.matches) else {
            let seen = gpus.map { "\($0.index): \($0.uuid)" }.joined(separator: ", ")
            throw DeviceProbeError("nvidia device \(selector) not found (\(query.sourceName) sees \(seen.isEmpty ? "no GPU" : seen))")
        }
        return gpu
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}
