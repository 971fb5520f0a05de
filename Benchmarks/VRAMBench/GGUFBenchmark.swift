import Foundation
import GGUF

/// Reads model headers with vramd's reader and with gguf-py's `GGUFReader` on the same files in
/// the same run, and prints both times and their ratio.
///
/// Options: `--python PATH` (python with gguf), `--model PATH` (gemma-3-270m),
/// `--fixtures-script PATH` (scripts/gguf-fixtures.py, writes the fixtures). Each defaults to
/// the variable scripts/test exports (`VRAMD_PYTHON`, `VRAMD_TEST_MODEL`) or the repository path.
/// Targets: at least 500× faster than `GGUFReader`, and at most 20 ms for the gemma header.
enum GGUFBenchmark {
    static let targetRatio = 500.0
    static let targetGemmaMilliseconds = 20.0

    struct Row {
        var name: String
        var path: String
        var swiftSeconds: Double
        var swiftWithArraysSeconds: Double
        var pythonSeconds: Double?
    }

    static func run(arguments: [String]) throws {
        let options = Options(arguments)
        guard let python = options.python, let model = options.model else {
            print("gguf: skipped (needs --python and --model, or VRAMD_PYTHON and VRAMD_TEST_MODEL)")
            return
        }
        let fixtures = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-bench-gguf-\(getpid())")
        defer { try? FileManager.default.removeItem(at: fixtures) }
        try runProcess(python, [options.fixturesScript, fixtures.path])

        var files = [("gemma-3-270m", model)]
        for name in ["llama-gqa", "moe", "sliding"] {
            files.append((name, fixtures.appendingPathComponent("\(name).gguf").path))
        }
        // GGUFReader takes seconds on the gemma vocabulary: one read there, a few elsewhere.
        let pythonTimes = try pythonSeconds(python, files.map { ($0.1, $0.0 == "gemma-3-270m" ? 1 : 5) })
        var rows: [Row] = []
        for (name, path) in files {
            let iterations = name == "gemma-3-270m" ? 50 : 200
            rows.append(Row(
                name: name, path: path,
                swiftSeconds: try timePerRead(iterations) { _ = try GGUFFile.open(path: path) },
                swiftWithArraysSeconds: try timePerRead(iterations / 5) {
                    let file = try GGUFFile.open(path: path)
                    for entry in file.metadata where entry.value.arrayValue != nil { _ = try file.arrayValues(entry.key) }
                },
                pythonSeconds: pythonTimes[path]
            ))
        }
        report(rows)
    }

    static func report(_ rows: [Row]) {
        func ms(_ seconds: Double) -> String { String(format: "%10.3f", seconds * 1000) }
        print("gguf header read, ms per file (vramd: header with lazy arrays; +arrays: every array loaded)")
        print("file              vramd      +arrays   GGUFReader      ratio")
        for row in rows {
            let python = row.pythonSeconds.map(ms) ?? "         ?"
            let ratio = row.pythonSeconds.map { String(format: "%9.0f×", $0 / row.swiftSeconds) } ?? "?"
            print("\(row.name.padding(toLength: 14, withPad: " ", startingAt: 0))\(ms(row.swiftSeconds)) \(ms(row.swiftWithArraysSeconds))   \(python) \(ratio)")
        }
        if let gemma = rows.first, let python = gemma.pythonSeconds {
            let ratio = python / gemma.swiftSeconds
            let fast = gemma.swiftSeconds * 1000 <= targetGemmaMilliseconds
            print("target gemma header ≤ \(Int(targetGemmaMilliseconds)) ms: \(fast ? "met" : "MISSED"); "
                + "≥ \(Int(targetRatio))× GGUFReader: \(ratio >= targetRatio ? "met" : "MISSED") (\(String(format: "%.0f", ratio))×)")
        }
    }

    /// Median seconds per call over `iterations` calls, after one warm-up call.
    static func timePerRead(_ iterations: Int, _ body: () throws -> Void) throws -> Double {
        try body()
        let clock = ContinuousClock()
        var samples: [Double] = []
        for _ in 0 ..< max(iterations, 1) {
            let elapsed = try clock.measure(body)
            samples.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return samples.sorted()[samples.count / 2]
    }

    /// Seconds per `GGUFReader` construction for each file, measured by python itself.
    static func pythonSeconds(_ python: String, _ files: [(String, Int)]) throws -> [String: Double] {
        let script = """
        import json, sys, time
        from gguf import GGUFReader
        result = {}
        for path, n in json.loads(sys.argv[1]):
            GGUFReader(path) if n > 1 else None  # warm the page cache like the Swift side
            start = time.perf_counter()
            for _ in range(n):
                GGUFReader(path)
            result[path] = (time.perf_counter() - start) / n
        print(json.dumps(result))
        """
        let request = String(decoding: try JSONSerialization.data(withJSONObject: files.map { [$0.0, $0.1] as [Any] }), as: UTF8.self)
        let output = try runProcess(python, ["-c", script, request])
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Double]
        return json ?? [:]
    }

    @discardableResult
    static func runProcess(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // Read before waiting: the output is small, but waiting first could block on a full pipe.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchmarkError(message: "\(executable) \(arguments.first ?? "") exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    struct Options {
        var python: String?
        var model: String?
        var fixturesScript = "scripts/gguf-fixtures.py"

        init(_ arguments: [String]) {
            let environment = ProcessInfo.processInfo.environment
            python = environment["VRAMD_PYTHON"]
            model = environment["VRAMD_TEST_MODEL"]
            var iterator = arguments.makeIterator()
            while let argument = iterator.next() {
                switch argument {
                case "--python": python = iterator.next()
                case "--model": model = iterator.next()
                case "--fixtures-script": fixturesScript = iterator.next() ?? fixturesScript
                default: print("gguf: ignoring unknown argument \(argument)")
                }
            }
        }
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
