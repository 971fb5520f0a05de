import Foundation
import Glibc
import Logging
import Testing
@testable import Devices

@Suite struct NvidiaTests {
    static let busyUUID = "GPU-5b3e9a4c-0d2f-4e1a-9c61-8f1b2a7d3e40"
    static let MiB: UInt64 = 1024 * 1024

    @Test func nvidiaSMIOutputIsDecodedWithProcessesJoinedByUUID() throws {
        let gpus = try NvidiaSMIQuery.parse(
            gpuLines: Fixture.lines("nvidia-smi-gpus.csv"), processLines: Fixture.lines("nvidia-smi-apps.csv"))
        #expect(gpus.count == 2)
        let busy = try #require(gpus.first)
        #expect(busy.index == 0)
        #expect(busy.uuid == Self.busyUUID)
        #expect(busy.name == "NVIDIA GeForce RTX 4090")
        #expect(busy.total == 24564 * Self.MiB)
        #expect(busy.used == 14230 * Self.MiB)
        #expect(busy.free == 9889 * Self.MiB)
        #expect(busy.processes == [
            ProcessMemory(pid: 4242, bytes: 9216 * Self.MiB),
            ProcessMemory(pid: 5150, bytes: 4480 * Self.MiB),
            ProcessMemory(pid: 6001, bytes: nil),
        ])
        #expect(gpus[1].processes == [])
        #expect(gpus[1].name == "NVIDIA RTX A4000")
    }

    @Test func nvidiaSMIGarbageIsAnErrorNotAZeroDevice() {
        #expect(throws: DeviceProbeError.self) {
            try NvidiaSMIQuery.parse(gpuLines: ["0, GPU-x, Some GPU, [N/A], 1, 2"], processLines: [])
        }
    }

    @Test func nvidiaSMIIsRunWithTheDocumentedQueries() async throws {
        let gpuLines = try Fixture.lines("nvidia-smi-gpus.csv")
        let appLines = try Fixture.lines("nvidia-smi-apps.csv")
        let query = NvidiaSMIQuery(executable: "/usr/bin/nvidia-smi") { argv in
            #expect(argv[0] == "/usr/bin/nvidia-smi")
            #expect(argv.last == "--format=csv,noheader,nounits")
            let lines = argv[1].hasPrefix("--query-gpu=index,uuid,name,memory.total,memory.used,memory.free") ? gpuLines : appLines
            return ChildProcess.Completed(status: .exited(0), lines: lines)
        }
        let probe = NvidiaDeviceProbe(selector: .uuid(Self.busyUUID.lowercased()), query: query)
        let reading = try await probe.read()
        #expect(reading.total == 24564 * Self.MiB)
        #expect(reading.processes?.count == 3)
    }

    /// The real runner: a process started, its output read, its status checked.
    @Test(.timeLimit(.minutes(1)))
    func nvidiaSMIIsRunAsAProcess() async throws {
        let probe = NvidiaDeviceProbe(selector: .index(1), query: NvidiaSMIQuery(executable: TestPrograms.path("fake-nvidia-smi")))
        let reading = try await probe.read()
        #expect(reading.name == "NVIDIA RTX A4000")
        #expect(reading.used == 1 * Self.MiB && reading.free == 15993 * Self.MiB)
        #expect(reading.processes == [])
    }

    @Test func nvidiaSMIFailureCarriesItsOutput() async {
        let query = NvidiaSMIQuery { _ in
            ChildProcess.Completed(status: .exited(9), lines: ["NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."])
        }
        await #expect { try await query.gpus() } throws: { error in
            "\(error)".contains("couldn't communicate with the NVIDIA driver")
        }
    }

    @Test(arguments: [3, 1])
    func nvmlStructuresAreDecoded(processInfoVersion: Int) async throws {
        var fake = try FakeNVML(fixture: "nvml-two-gpus.json")
        fake.processInfoVersion = processInfoVersion
        let query = try await NVMLQuery.open(functions: fake.functions)
        let gpus = try await query.gpus()
        #expect(gpus.map(\.index) == [0, 1])
        #expect(gpus[0].name == "NVIDIA GeForce RTX 4090")
        #expect(gpus[0].uuid == Self.busyUUID)
        #expect(gpus[0].total == 25_757_220_864)
        #expect(gpus[0].free == 10_369_368_064)
        #expect(gpus[0].used == 14_921_613_312)
        #expect(gpus[0].processes == [
            ProcessMemory(pid: 4242, bytes: 9_663_676_416),
            ProcessMemory(pid: 5150, bytes: 4_697_620_480),
            ProcessMemory(pid: 6001, bytes: nil),
        ])
        #expect(gpus[1].processes == [])
    }

    @Test func nvmlProcessListThatGrowsWhileReadIsRetried() async throws {
        var fake = try FakeNVML(fixture: "nvml-two-gpus.json")
        fake.processesAppearingDuringRead = 40
        let gpus = try await NVMLQuery.open(functions: fake.functions).gpus()
        #expect(gpus[0].processes?.map(\.pid) == [4242, 5150, 6001])
    }

    @Test func nvmlWithoutProcessAttributionSaysSo() async throws {
        var fake = try FakeNVML(fixture: "nvml-two-gpus.json")
        fake.processListNotSupported = true
        let probe = NvidiaDeviceProbe(selector: .index(0), query: try await NVMLQuery.open(functions: fake.functions))
        #expect(try await probe.read().processes == nil)
        #expect(try await probe.usage(ofProcessTree: 1) == nil)
    }

    @Test func nvmlInitFailureIsAClearError() async throws {
        var fake = try FakeNVML(fixture: "nvml-two-gpus.json")
        fake.initResult = 9
        await #expect { try await NVMLQuery.open(functions: fake.functions) } throws: { error in
            "\(error)".contains("nvmlInit failed: NVML_ERROR_DRIVER_NOT_LOADED")
        }
    }

    @Test func missingGPUNamesWhatWasSeen() async throws {
        let fake = try FakeNVML(fixture: "nvml-two-gpus.json")
        let probe = NvidiaDeviceProbe(selector: .index(5), query: try await NVMLQuery.open(functions: fake.functions))
        await #expect { try await probe.read() } throws: { error in
            "\(error)".contains("index 5 not found") && "\(error)".contains(Self.busyUUID)
        }
    }

    @Test func ownTreeIsAttributedFromTheProcessList() async throws {
        // This test process's own id stands in for a backend vramd started on the GPU.
        var fake = try FakeNVML(fixture: "nvml-two-gpus.json")
        let me = UInt32(getpid())
        fake.recording.devices[0].processes.append(.init(pid: me, used: 512 * Self.MiB))
        let probe = NvidiaDeviceProbe(selector: .index(0), query: try await NVMLQuery.open(functions: fake.functions))
        let usage = try #require(try await probe.usage(ofProcessTree: Int32(me)))
        #expect(usage.bytes == 512 * Self.MiB)
        #expect(usage.pids == [Int32(me)])
        let account = try await probe.account(cap: nil, managedRoots: [Int32(me)])
        #expect(account.managed == 512 * Self.MiB)
        #expect(account.foreign == 14_921_613_312 - 512 * Self.MiB)
    }

    @Test func detectionFallsBackAndFailsClearly() async throws {
        do {
            let query = try await NvidiaDeviceProbe.detectQuery(logger: Logger(label: "test"))
            print("NVIDIA figures come from \(query.sourceName): \(try await query.gpus())")
        } catch {
            // The message a config check prints on a machine without the driver.
            #expect("\(error)".contains("no NVIDIA driver found"))
            #expect("\(error)".contains("libnvidia-ml.so.1"))
            #expect("\(error)".contains("nvidia-smi"))
        }
    }

    @Test func realDriverIsUsedWhenPresent() async throws {
        // No GPU was lent to this project's sessions; on a machine with the driver this prints what
        // NVML sees, and elsewhere it checks that the absence is a clear error, not a crash.
        do {
            let gpus = try await NVMLQuery.open().gpus()
            print("NVML sees \(gpus)")
            #expect(!gpus.isEmpty)
        } catch {
            #expect("\(error)".contains("libnvidia-ml.so.1") || "\(error)".contains("NVML"))
        }
    }
}

/// The real loading path (dlopen, dlsym, calls through C function pointers) against a C library
/// with nvml.h's signatures and layouts, compiled from Programs/fake_nvml.c with the toolchain's
/// C compiler. Not a driver, but the same machine code path vramd takes with one.
@Suite struct NVMLLibraryTests {
    /// Compiles Programs/fake_nvml.c (with `defines`) into a `libnvidia-ml.so.1` for `body`.
    static func withFakeLibrary(_ defines: [String] = [], _ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-nvml-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library = directory + "/libnvidia-ml.so.1"
        let source = TestPrograms.path("fake_nvml.c")
        let compiled = try await ChildProcess.run([TestPrograms.cCompiler, "-shared", "-fPIC", "-O1"] + defines + ["-o", library, source])
        try #require(compiled.status.isSuccess, "\(TestPrograms.cCompiler): \(compiled.lines.joined(separator: "\n"))")
        try await body(library)
    }

    @Test(.timeLimit(.minutes(1)))
    func nvmlIsLoadedAndDecodedThroughDlopen() async throws {
        try await Self.withFakeLibrary { library in
            let functions = try NVMLFunctions.load(library: library)
            #expect(functions.processInfoStride == 24, "the _v3 entry point takes 24-byte entries")
            let gpus = try await NVMLQuery.open(functions: functions).gpus()
            #expect(gpus.count == 1)
            let gpu = try #require(gpus.first)
            #expect(gpu.name == "NVIDIA GeForce RTX 4090")
            #expect(gpu.uuid == NvidiaTests.busyUUID)
            #expect(gpu.total == 25_757_220_864 && gpu.free == 10_369_368_064 && gpu.used == 14_921_613_312)
            #expect(gpu.processes == [
                ProcessMemory(pid: 4242, bytes: 9_663_676_416),
                ProcessMemory(pid: 5150, bytes: 4_697_620_480),
                ProcessMemory(pid: 6001, bytes: nil),
            ])
            #expect(functions.errorString?(7) == "Insufficient Size")
        }
    }

    /// The oldest drivers export only the unversioned process list, whose entries are 16 bytes:
    /// read with the newer stride, every pid after the first would be garbage.
    @Test(.timeLimit(.minutes(1)))
    func theFirstProcessListABIIsReadWithItsOwnStride() async throws {
        try await Self.withFakeLibrary(["-DFIRST_ABI"]) { library in
            let functions = try NVMLFunctions.load(library: library)
            #expect(functions.processInfoStride == 16)
            let gpu = try #require(try await NVMLQuery.open(functions: functions).gpus().first)
            #expect(gpu.processes == [
                ProcessMemory(pid: 4242, bytes: 9_663_676_416),
                ProcessMemory(pid: 5150, bytes: 4_697_620_480),
                ProcessMemory(pid: 6001, bytes: nil),
            ])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aLibraryWithoutAnEntryPointIsAClearError() async throws {
        try await Self.withFakeLibrary(["-DNO_UUID"]) { library in
            #expect { try NVMLFunctions.load(library: library) } throws: { error in
                "\(error)".contains("has no nvmlDeviceGetUUID")
            }
        }
    }

    @Test func missingLibraryIsAClearError() {
        #expect { try NVMLFunctions.load(library: "/nonexistent/libnvidia-ml.so.1") } throws: { error in
            "\(error)".contains("cannot load /nonexistent/libnvidia-ml.so.1")
        }
    }
}
