#if canImport(Glibc)
import Glibc
#endif

/// The NVML entry points vramd uses, as a table of functions.
///
/// The real table comes from `dlopen("libnvidia-ml.so.1")` at run time, so vramd has no link-time
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
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw DeviceProbeError("NVML: cannot load \(library): \(reason)")
        }
        // Newer drivers export versioned names; the unversioned ones are the oldest ABI.
        func symbol<F>(_ names: String..., as type: F.Type) throws -> (F, String) {
            for name in names {
                if let pointer = dlsym(handle, name) { return (unsafeBitCast(pointer, to: type), name) }
            }
            throw DeviceProbeError("NVML: \(library) has no \(names.joined(separator: " or "))")
        }
        typealias Void0 = @convention(c) () -> Int32
        typealias Count = @convention(c) (UnsafeMutablePointer<UInt32>?) -> Int32
        typealias Handle = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
        typealias Memory = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32
        typealias Text = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, UInt32) -> Int32
        typealias Processes = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt32>?, UnsafeMutableRawPointer?) -> Int32
        typealias ErrorText = @convention(c) (Int32) -> UnsafePointer<CChar>?

        let (initialize, _) = try symbol("nvmlInit_v2", "nvmlInit", as: Void0.self)
        let (count, _) = try symbol("nvmlDeviceGetCount_v2", "nvmlDeviceGetCount", as: Count.self)
        let (byIndex, _) = try symbol("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", as: Handle.self)
        let (memory, _) = try symbol("nvmlDeviceGetMemoryInfo", as: Memory.self)
        let (name, _) = try symbol("nvmlDeviceGetName", as: Text.self)
        let (uuid, _) = try symbol("nvmlDeviceGetUUID", as: Text.self)
        let (processes, processesName) = try symbol(
            "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
            "nvmlDeviceGetComputeRunningProcesses", as: Processes.self)
        let errorText: ErrorText? = dlsym(handle, "nvmlErrorString").map { unsafeBitCast($0, to: ErrorText.self) }
        var describe: (@Sendable (Int32) -> String)?
        if let errorText {
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
            processInfoStride: processesName == "nvmlDeviceGetComputeRunningProcesses" ? 16 : 24,
            errorString: describe
        )
    }
}
