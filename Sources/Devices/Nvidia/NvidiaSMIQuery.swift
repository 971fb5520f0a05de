/// NVIDIA figures read by running `nvidia-smi`, for machines where NVML cannot be loaded in-process
/// (a container with the tool mounted but not the library, a mismatched library).
///
/// It costs a process start per reading (tens of milliseconds), which is why NVML comes first.
public struct NvidiaSMIQuery: NvidiaQuery {
    /// Runs a command and returns its status and output lines; replaced in tests.
    public typealias Runner = @Sendable ([String]) async throws -> ChildProcess.Completed

    public var sourceName: String { "nvidia-smi" }
    private let executable: String
    private let runner: Runner

    static let gpuQuery = "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free"
    static let processQuery = "--query-compute-apps=pid,used_memory,gpu_uuid"
    static let format = "--format=csv,noheader,nounits"

    public init(executable: String = "nvidia-smi", runner: @escaping Runner = { try await ChildProcess.run($0) }) {
        self.executable = executable
        self.runner = runner
    }

    public func gpus() async throws -> [NvidiaGPU] {
        let gpuLines = try await run([executable, Self.gpuQuery, Self.format])
        let processLines = try await run([executable, Self.processQuery, Self.format])
        return try Self.parse(gpuLines: gpuLines, processLines: processLines)
    }

    private func run(_ argv: [String]) async throws -> [String] {
        let completed = try await runner(argv)
        guard completed.status.isSuccess else {
            let tail = completed.lines.suffix(3).joined(separator: " / ")
            throw DeviceProbeError("nvidia-smi \(completed.status): \(tail)")
        }
        return completed.lines
    }

    /// Decodes the two CSV answers (`noheader,nounits`: sizes in MiB) into GPUs with their processes.
    ///
    /// A process whose memory reads `[N/A]` (no permission, WDDM) is kept with unknown bytes.
    static func parse(gpuLines: [String], processLines: [String]) throws -> [NvidiaGPU] {
        var byUUID: [String: [ProcessMemory]] = [:]
        for line in processLines {
            let fields = csvFields(line)
            guard fields.count >= 3, let pid = Int32(fields[0]) else { continue }
            byUUID[fields[2], default: []].append(ProcessMemory(pid: pid, bytes: mebibytes(fields[1])))
        }
        return try gpuLines.compactMap { line in
            let fields = csvFields(line)
            if fields.isEmpty || fields == [""] { return nil }
            guard fields.count >= 6, let index = Int(fields[0]),
                  let total = mebibytes(fields[3]), let used = mebibytes(fields[4]), let free = mebibytes(fields[5])
            else { throw DeviceProbeError("nvidia-smi: cannot read the GPU line \"\(line)\"") }
            return NvidiaGPU(index: index, uuid: fields[1], name: fields[2], total: total, free: free, used: used,
                             processes: byUUID[fields[1]] ?? [])
        }
    }

    private static func csvFields(_ line: String) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingWhitespace()) }
    }

    private static func mebibytes(_ field: String) -> UInt64? {
        UInt64(field).map { $0 * 1024 * 1024 }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        let last = lastIndex(where: { !isSpace($0) })!
        return self[first...last]
    }
}
