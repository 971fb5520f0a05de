import CShims

/// The NVML entry points vramd uses, as a table of functions.
///
/// The real table comes from `dlopen("libnvidia-ml.so.1")` at run time (in the `CShims` module), so vramd has no link-time
/// dependency on the driver and builds and runs where there is none. Tests build a table from a
/// recorded fixture that fills the same C structures, so the decoding in ``NVMLQuery`` is the code
/// that runs against a real driver.
///
/// Every entry returns an `nvmlReturn_t`; pointers are to the C structures of `nvml.h`.
struct NVMLFunctions: Sendable {
    typealias Return = Int32

    /// `nvmlInit_v2()`.
    var initialize: @Sendable () -> Return
    /// `nvmlDeviceGetCount_v2(unsigned int *)`.
    var deviceCount: @Sendable (UnsafeMutablePointer<UInt32>) -> Return
    /// `nvmlDeviceGetHandleByIndex_v2(unsigned int, nvmlDevice_t *)`.
    var handleByIndex: @Sendable (UInt32, UnsafeMutablePointer<OpaquePointer?>) -> Return
    /// `nvmlDeviceGetMemoryInfo(nvmlDevice_t, nvmlMemory_t *)`: three `unsigned long long`,
    /// total, free, used.
    var memoryInfo: @Sendable (OpaquePointer?, UnsafeMutableRawPointer) -> Return
    /// `nvmlDeviceGetName(nvmlDevice_t, char *, unsigned int)`.
    var name: @Sendable (OpaquePointer?, UnsafeMutablePointer<CChar>, UInt32) -> Return
    /// `nvmlDeviceGetUUID(nvmlDevice_t, char *, unsigned int)`.
    var uuid: @Sendable (OpaquePointer?, UnsafeMutablePointer<CChar>, UInt32) -> Return
    /// `nvmlDeviceGetComputeRunningProcesses[_v2|_v3](nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *)`.
    var computeProcesses: @Sendable (OpaquePointer?, UnsafeMutablePointer<UInt32>, UnsafeMutableRawPointer?) -> Return
    /// The size of one `nvmlProcessInfo_t` for the `computeProcesses` entry found: 24 bytes for
    /// `_v2` and `_v3` (pid, used memory, GPU and compute instance ids), 16 for the first version.
    var processInfoStride: Int
    /// `nvmlErrorString(nvmlReturn_t)`, when present.
    var errorString: (@Sendable (Return) -> String)?

    static let libraryName = "libnvidia-ml.so.1"

    /// Loads NVML from the driver's library.
    ///
    /// - Throws: ``DeviceProbeError`` naming the library or the missing symbol.
    static func load(library: String = libraryName) throws -> NVMLFunctions {
        var table = vramd_nvml_table()
        var problem: UnsafePointer<CChar>?
        switch vramd_nvml_open(library, &table, &problem) {
        case 0: break
        case -1: throw DeviceProbeError("NVML: cannot load \(library): \(problem.map { String(cString: $0) } ?? "not found")")
        default: throw DeviceProbeError("NVML: \(library) has no \(problem.map { String(cString: $0) } ?? "required entry point")")
        }
        guard let initialize = table.initialize, let count = table.device_count, let byIndex = table.handle_by_index,
              let memory = table.memory_info, let name = table.name, let uuid = table.uuid,
              let processes = table.compute_processes else {
            throw DeviceProbeError("NVML: \(library) is missing an entry point")
        }
        var describe: (@Sendable (Int32) -> String)?
        if let errorText = table.error_string {
            describe = { code in
                guard let text = errorText(code) else { return "code \(code)" }
                return String(cString: text)
            }
        }

        return NVMLFunctions(
            initialize: { initialize() },
            deviceCount: { count($0) },
            handleByIndex: { byIndex($0, $1) },
            memoryInfo: { memory($0, $1) },
            name: { name($0, $1, $2) },
            uuid: { uuid($0, $1, $2) },
            computeProcesses: { processes($0, $1, $2) },
            processInfoStride: Int(table.process_info_stride),
            errorString: describe
        )
    }
}
