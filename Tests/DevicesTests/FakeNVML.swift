import Foundation
@testable import Devices

/// An NVML function table driven by a recorded fixture.
///
/// Each entry writes into the caller's buffers exactly as the driver does (the C layout of
/// `nvmlMemory_t` and `nvmlProcessInfo_t`, NUL-terminated strings, `NVML_ERROR_INSUFFICIENT_SIZE`
/// with the needed count), so ``NVMLQuery`` decodes it with the code that runs against a real GPU.
struct FakeNVML {
    struct Recording: Decodable, Sendable {
        struct Device: Decodable, Sendable {
            var name: String
            var uuid: String
            var total: UInt64
            var free: UInt64
            var used: UInt64
            var processes: [Process]
        }
        struct Process: Decodable, Sendable {
            var pid: UInt32
            var used: UInt64?
        }
        var devices: [Device]
    }

    var recording: Recording
    /// 3 for `_v3` (24-byte entries), 1 for the first ABI (16-byte entries).
    var processInfoVersion = 3
    /// What `nvmlInit` returns (0 = success, 9 = driver not loaded).
    var initResult: Int32 = 0
    /// Extra processes that appear between NVML's sizing answer and the caller's retry.
    var processesAppearingDuringRead = 0
    var processListNotSupported = false

    init(fixture: String) throws {
        recording = try JSONDecoder().decode(Recording.self, from: Data(Fixture.text(fixture).utf8))
    }

    var functions: NVMLFunctions {
        let recording = recording
        let stride = processInfoVersion == 1 ? 16 : 24
        let initResult = initResult
        let extra = UInt32(processesAppearingDuringRead)
        let notSupported = processListNotSupported
        @Sendable func device(_ handle: OpaquePointer?) -> Recording.Device? {
            let index = Int(bitPattern: UnsafeRawPointer(handle)) - 1
            return recording.devices.indices.contains(index) ? recording.devices[index] : nil
        }
        @Sendable func writeText(_ text: String, _ buffer: UnsafeMutablePointer<CChar>, _ length: UInt32) -> Int32 {
            let bytes = Array(text.utf8CString)
            guard bytes.count <= Int(length) else { return 7 }
            for (offset, byte) in bytes.enumerated() { buffer[offset] = byte }
            return 0
        }
        return NVMLFunctions(
            initialize: { initResult },
            deviceCount: { $0.pointee = UInt32(recording.devices.count); return 0 },
            handleByIndex: { index, handle in
                guard Int(index) < recording.devices.count else { return 2 }
                handle.pointee = OpaquePointer(bitPattern: Int(index) + 1)
                return 0
            },
            memoryInfo: { handle, memory in
                guard let device = device(handle) else { return 2 }
                memory.storeBytes(of: device.total, toByteOffset: 0, as: UInt64.self)
                memory.storeBytes(of: device.free, toByteOffset: 8, as: UInt64.self)
                memory.storeBytes(of: device.used, toByteOffset: 16, as: UInt64.self)
                return 0
            },
            name: { handle, buffer, length in device(handle).map { writeText($0.name, buffer, length) } ?? 2 },
            uuid: { handle, buffer, length in device(handle).map { writeText($0.uuid, buffer, length) } ?? 2 },
            computeProcesses: { handle, count, infos in
                guard let device = device(handle) else { return 2 }
                if notSupported { return 3 }
                let needed = UInt32(device.processes.count)
                // The first call of a read is told about more processes than the buffer holds.
                if count.pointee < needed + extra || infos == nil {
                    count.pointee = needed + extra
                    return 7
                }
                count.pointee = needed
                for (index, process) in device.processes.enumerated() {
                    let entry = infos! + index * stride
                    entry.storeBytes(of: process.pid, toByteOffset: 0, as: UInt32.self)
                    entry.storeBytes(of: process.used ?? UInt64.max, toByteOffset: 8, as: UInt64.self)
                    if stride == 24 {
                        entry.storeBytes(of: UInt32.max, toByteOffset: 16, as: UInt32.self)
                        entry.storeBytes(of: UInt32.max, toByteOffset: 20, as: UInt32.self)
                    }
                }
                return 0
            },
            processInfoStride: stride,
            errorString: nil
        )
    }
}
