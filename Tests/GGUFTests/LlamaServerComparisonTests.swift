import Foundation
import Testing
@testable import GGUF

/// The estimator against what llama.cpp's server really allocates on the CPU, part by part,
/// read from its `-v` startup log: for the gemma model (sliding window, tied output) and for a
/// synthetic llama and qwen3moe from the fixtures (grouped KV heads, experts, untied output).
///
/// The CPU run keeps every layer in host memory, so it is compared with an estimate for
/// `gpuLayers: 0` and the sum of all parts (a device run would differ only in where the parts
/// live, plus the second copy of the tied output). `--no-repack` keeps llama.cpp from adding
/// CPU-only repacked copies of some weights, which no GPU run makes.
@Suite(.serialized, .enabled(if: TestEnvironment.canRun(TestEnvironment.llamaServer, TestEnvironment.model, TestEnvironment.python),
                             "needs VRAMD_LLAMA_SERVER, VRAMD_TEST_MODEL and VRAMD_PYTHON (scripts/test sets them)"))
struct LlamaServerComparisonTests {
    /// One llama-server configuration to compare.
    struct Scenario: Sendable, CustomTestStringConvertible {
        /// `nil` for the gemma model, else a fixture name.
        var fixture: String? = nil
        var context: Int
        var flashAttention: Bool
        var parallel = 1
        var unified = true

        var testDescription: String {
            "\(fixture ?? "gemma-3-270m") ctx \(context), flash attention \(flashAttention ? "on" : "off"), \(parallel) seq, \(unified ? "unified" : "split") KV"
        }
    }

    static let scenarios: [Scenario] = [512, 4096, 32768].flatMap { context in
        [true, false].map { Scenario(context: context, flashAttention: $0) }
    } + [
        Scenario(context: 8192, flashAttention: true, parallel: 4, unified: true),
        Scenario(context: 8192, flashAttention: false, parallel: 4, unified: false),
    ] + [512, 2048, 8192].flatMap { context in
        [true, false].map { Scenario(fixture: "served-llama", context: context, flashAttention: $0) }
    } + [true, false].map { Scenario(fixture: "served-moe", context: 4096, flashAttention: $0) }

    @Test(.timeLimit(.minutes(2)), arguments: scenarios)
    func estimateMatchesLlamaServer(_ scenario: Scenario) throws {
        let server = try TestEnvironment.require(TestEnvironment.llamaServer)
        let model = try scenario.fixture.map(Fixtures.path) ?? TestEnvironment.require(TestEnvironment.model)
        let log = try LlamaServerRun.startupLog(server: server, arguments: [
            "-m", model, "--host", "127.0.0.1", "--port", "0", "--ctx-size", String(scenario.context),
            "--parallel", String(scenario.parallel), scenario.unified ? "--kv-unified" : "--no-kv-unified",
            "--ubatch-size", "512", "--flash-attn", scenario.flashAttention ? "on" : "off",
            "--no-repack", "--fit", "off", "-v",
        ])
        let real = try #require(LlamaServerLog(log), "no buffer sizes in the server log:\n\(log.suffix(3000))")

        let estimator = try MemoryEstimator(file: try GGUFFile.open(path: model))
        let options = EstimateOptions(
            context: scenario.context, parallel: scenario.parallel, ubatch: 512,
            flashAttention: scenario.flashAttention, gpuLayers: 0, unifiedKV: scenario.unified
        )
        let estimate = try estimator.estimate(options)
        let rows: [(String, Int64, Int64)] = [
            ("weights", estimate.weightsHost + estimate.weightsDevice, real.model),
            ("KV cache", estimate.kvCache, real.kv),
            ("compute", estimate.computeBuffer, real.compute),
            ("output", estimate.hostBuffers, real.output),
            ("total", estimate.total, real.total),
        ]
        print("\(scenario.testDescription): part, estimate MiB, llama.cpp MiB, error")
        for (name, ours, theirs) in rows {
            print("  \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(mib(ours)) \(mib(theirs)) \(percent(ours, theirs))")
        }
        #expect(abs(error(estimate.total, real.total)) <= 0.10, "total off by more than 10%")
        // Weights and KV cache are byte sizes of known tensors: anything but a rounding
        // difference means a sizing rule is wrong.
        #expect(exact(estimate.weightsHost + estimate.weightsDevice, real.model))
        #expect(exact(estimate.kvCache, real.kv))
        #expect(exact(estimate.hostBuffers, real.output))
        if let swaCells = real.slidingCells {
            let layout = try KVCacheLayout(shape: estimator.shape, options: options)
            #expect(layout.slidingCells == swaCells)
        }
    }

    func error(_ ours: Int64, _ theirs: Int64) -> Double {
        theirs == 0 ? (ours == 0 ? 0 : 1) : Double(ours - theirs) / Double(theirs)
    }

    /// Equal within 1%, or within the log's resolution (sizes printed as MiB with 2 decimals).
    func exact(_ ours: Int64, _ theirs: Int64) -> Bool {
        let resolution: Int64 = 1_048_576 / 200
        return abs(ours - theirs) <= max(resolution, theirs / 100)
    }

    func mib(_ bytes: Int64) -> String {
        String(format: "%9.2f", Double(bytes) / 1_048_576)
    }

    func percent(_ ours: Int64, _ theirs: Int64) -> String {
        String(format: "%+6.1f%%", error(ours, theirs) * 100)
    }
}

/// The buffer sizes llama.cpp prints at startup with `-v`.
struct LlamaServerLog {
    var model: Int64 = 0
    var kv: Int64 = 0
    var compute: Int64 = 0
    var output: Int64 = 0
    var slidingCells: Int?

    var total: Int64 { model + kv + compute + output }

    /// Parses `log`; `nil` when it holds no model buffer line (the server did not load).
    init?(_ log: String) {
        var sawModel = false
        for line in log.split(separator: "\n") {
            if line.contains("creating     SWA KV cache, size = ") || line.contains("creating SWA KV cache, size = ") {
                slidingCells = Int(line.split(separator: "=").last?.split(separator: " ").first ?? "")
            }
            guard let bytes = Self.mebibytes(line) else { continue }
            if line.contains("model buffer size") {
                model += bytes
                sawModel = true
            } else if line.contains("KV buffer size") {
                kv += bytes
            } else if line.contains("compute buffer size =") {
                compute += bytes
            } else if line.contains("output buffer size") {
                output += bytes
            }
        }
        guard sawModel else { return nil }
    }

    /// The `= 12.34 MiB` figure at the end of a buffer line, in bytes.
    static func mebibytes(_ line: Substring) -> Int64? {
        guard line.hasSuffix(" MiB"), let equals = line.lastIndex(of: "=") else { return nil }
        let number = line[line.index(after: equals)...].dropLast(4).trimmingCharacters(in: .whitespaces)
        return Double(number).map { Int64(($0 * 1_048_576).rounded()) }
    }
}

enum LlamaServerRun {
    /// Longer than any real startup here (about 2 s for gemma-3-270m on 2 cores).
    static let startupLimitSeconds = 90

    /// Starts llama-server, reads its log until it listens (or exits), stops it, and returns
    /// the log. The pipe is read as it fills, so the server never blocks on its own output.
    static func startupLog(server: String, arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // A server that hangs before listening would block the read below forever; killing it
        // closes the pipe, the read ends, and the test fails on the missing buffer lines.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(startupLimitSeconds), execute: watchdog)
        defer {
            watchdog.cancel()
            if process.isRunning { kill(pid, SIGKILL) }
            process.waitUntilExit()
        }
        let reader = pipe.fileHandleForReading
        var log = Data()
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            log.append(chunk)
            if String(decoding: log.suffix(4096), as: UTF8.self).contains("listening on") { break }
        }
        // SIGKILL, not SIGTERM: a child Foundation starts from the test runner inherits a
        // signal mask with SIGTERM and SIGINT blocked, so llama-server would never see them.
        // Nothing of the server's needs a graceful end here.
        kill(process.processIdentifier, SIGKILL)
        // Drain until the server's end of the pipe closes.
        while !reader.availableData.isEmpty {}
        return String(decoding: log, as: UTF8.self)
    }
}
