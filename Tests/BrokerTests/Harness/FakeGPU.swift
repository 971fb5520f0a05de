import Foundation

/// One NVIDIA GPU whose readings the test sets: `Servers/fake-nvidia-smi`, put first on the
/// `PATH` of vramd, answers vramd's two `nvidia-smi` queries from `gpu.json` in `directory`,
/// plus the memory the models loaded in a test backend hold.
///
/// vramd only runs `nvidia-smi` when NVML cannot be loaded, so on a machine with an NVIDIA
/// driver it would read the real GPU instead: tests using this are disabled there.
struct FakeGPU: Sendable {
    static let mebibyte: Int64 = 1 << 20
    let directory: String
    let total: Int64
    let backend: TestBackend
    let bytesPerModel: Int64

    /// Whether NVML is present (vramd would use it, not the fake).
    static var nvmlPresent: Bool {
        guard let handle = dlopen("libnvidia-ml.so.1", RTLD_LAZY) else { return false }
        dlclose(handle)
        return true
    }

    /// Makes the fake in `directory` (a `bin/nvidia-smi` link to the script): a GPU of `total`
    /// bytes on which each model `backend` has loaded holds `bytesPerModel`, and nothing else.
    init(in directory: String, total: Int64, backend: TestBackend, bytesPerModel: Int64) throws {
        self.directory = directory
        self.total = total
        self.backend = backend
        self.bytesPerModel = bytesPerModel
        let bin = directory + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: TestPrograms.backend).deletingLastPathComponent()
            .appendingPathComponent("fake-nvidia-smi").path
        try FileManager.default.createSymbolicLink(atPath: bin + "/nvidia-smi", withDestinationPath: script)
        try report(foreign: [])
    }

    /// What vramd's environment needs for it to find the fake.
    var environment: [String: String] {
        ["PATH": directory + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
         "FAKE_NVIDIA_SMI_DIR": directory]
    }

    /// From the next reading on, these processes (pid, bytes) that are not vramd's hold memory
    /// on the GPU besides the backend's models.
    func report(foreign: [(pid: Int32, bytes: Int64)]) throws {
        let state: [String: Any] = [
            "total_mib": total / Self.mebibyte,
            "foreign": foreign.map { [Int($0.pid), Int($0.bytes / Self.mebibyte)] },
            "backend": ["url": backend.url, "pid": Int(backend.child.pid), "mib_per_model": Int(bytesPerModel / Self.mebibyte)],
        ]
        // Written aside and renamed, so a reading never sees half a file.
        let path = directory + "/gpu.json"
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: path + ".tmp"))
        guard rename(path + ".tmp", path) == 0 else { throw HarnessError("cannot rename \(path).tmp") }
    }

    /// How many times vramd has read the GPU so far.
    var readings: Int {
        let calls = (try? String(contentsOfFile: directory + "/calls", encoding: .utf8)) ?? ""
        return calls.split(separator: "\n").count { $0.hasPrefix("--query-gpu") }
    }
}
