/// NVIDIA figures read in-process through NVML.
///
/// NVML is initialised once and never shut down: its init is reference-counted and costs tens of
/// milliseconds, and vramd reads devices for its whole life. NVML is thread-safe; the calls run on
/// ``BlockingWork`` threads because a busy driver can take milliseconds to answer.
public struct NVMLQuery: NvidiaQuery {
    private let functions: NVMLFunctions

    public var sourceName: String { "NVML" }

    /// `NVML_ERROR_INSUFFICIENT_SIZE`: the process buffer was too small; the count says how many.
    static let insufficientSize: Int32 = 7
    /// `NVML_VALUE_NOT_AVAILABLE`, what a process's used memory reads as when the driver will not say.
    static let valueNotAvailable = UInt64.max
    /// `NVML_DEVICE_NAME_V2_BUFFER_SIZE` and `NVML_DEVICE_UUID_V2_BUFFER_SIZE`.
    static let textBufferSize = 96

    /// Loads and initialises NVML from the driver.
    ///
    /// - Throws: ``DeviceProbeError`` when the library is missing or `nvmlInit` fails (no driver).
    public static func open() async throws -> NVMLQuery {
        try await open(functions: NVMLFunctions.load())
    }

    static func open(functions: NVMLFunctions) async throws -> NVMLQuery {
        let query = NVMLQuery(functions: functions)
        try await BlockingWork.run { try query.check(functions.initialize(), "nvmlInit") }
        return query
    }

    private init(functions: NVMLFunctions) {
        self.functions = functions
    }

    public func gpus() async throws -> [NvidiaGPU] {
        try await BlockingWork.run { try readGPUs() }
    }

    func readGPUs() throws -> [NvidiaGPU] {
        var count: UInt32 = 0
        try check(functions.deviceCount(&count), "nvmlDeviceGetCount")
        return try (0..<count).map { index in
            var handle: OpaquePointer?
            try check(functions.handleByIndex(index, &handle), "nvmlDeviceGetHandleByIndex(\(index))")
            let memory = try readMemory(handle)
            return NvidiaGPU(
                index: Int(index),
                uuid: try readText(functions.uuid, handle, "nvmlDeviceGetUUID"),
                name: try readText(functions.name, handle, "nvmlDeviceGetName"),
                total: memory.total, free: memory.free, used: memory.used,
                processes: try readProcesses(handle)
            )
        }
    }

    private func readMemory(_ handle: OpaquePointer?) throws -> (total: UInt64, free: UInt64, used: UInt64) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
        try check(functions.memoryInfo(handle, buffer), "nvmlDeviceGetMemoryInfo")
        return (buffer.load(fromByteOffset: 0, as: UInt64.self),
                buffer.load(fromByteOffset: 8, as: UInt64.self),
                buffer.load(fromByteOffset: 16, as: UInt64.self))
    }

    private func readText(_ function: @Sendable (OpaquePointer?, UnsafeMutablePointer<CChar>, UInt32) -> Int32,
                          _ handle: OpaquePointer?, _ name: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Self.textBufferSize)
        try check(buffer.withUnsafeMutableBufferPointer { function(handle, $0.baseAddress!, UInt32($0.count - 1)) }, name)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The compute processes on one GPU, or `nil` when the driver does not support listing them.
    ///
    /// The list can grow between the call that sizes the buffer and the one that fills it, so a
    /// too-small answer is retried with the count the driver reported plus room to spare.
    private func readProcesses(_ handle: OpaquePointer?) throws -> [ProcessMemory]? {
        let stride = functions.processInfoStride
        var capacity: UInt32 = 32
        for _ in 0..<5 {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(capacity) * stride, alignment: 8)
            defer { buffer.deallocate() }
            var count = capacity
            let result = functions.computeProcesses(handle, &count, buffer)
            if result == Self.insufficientSize {
                capacity = max(count, capacity) + 16
                continue
            }
            // NVML_ERROR_NOT_SUPPORTED (3): some boards and vGPU setups cannot attribute memory.
            if result == 3 { return nil }
            try check(result, "nvmlDeviceGetComputeRunningProcesses")
            return (0..<Int(min(count, capacity))).map { index in
                let pid = buffer.load(fromByteOffset: index * stride, as: UInt32.self)
                let used = buffer.load(fromByteOffset: index * stride + 8, as: UInt64.self)
                return ProcessMemory(pid: Int32(bitPattern: pid), bytes: used == Self.valueNotAvailable ? nil : used)
            }
        }
        throw DeviceProbeError("NVML: the process list kept growing while it was read")
    }

    private func check(_ result: Int32, _ call: String) throws {
        guard result != 0 else { return }
        let reason = functions.errorString?(result) ?? Self.errorName(result)
        throw DeviceProbeError("NVML: \(call) failed: \(reason) (\(result))")
    }

    /// Names of the `nvmlReturn_t` codes a broker is likely to meet.
    static func errorName(_ code: Int32) -> String {
        switch code {
        case 1: "NVML_ERROR_UNINITIALIZED"
        case 2: "NVML_ERROR_INVALID_ARGUMENT"
        case 3: "NVML_ERROR_NOT_SUPPORTED"
        case 4: "NVML_ERROR_NO_PERMISSION"
        case 6: "NVML_ERROR_NOT_FOUND"
        case 7: "NVML_ERROR_INSUFFICIENT_SIZE"
        case 9: "NVML_ERROR_DRIVER_NOT_LOADED"
        case 12: "NVML_ERROR_LIBRARY_NOT_FOUND"
        case 13: "NVML_ERROR_FUNCTION_NOT_FOUND"
        case 15: "NVML_ERROR_GPU_IS_LOST"
        case 18: "NVML_ERROR_LIB_RM_VERSION_MISMATCH"
        default: "NVML error"
        }
    }
}
