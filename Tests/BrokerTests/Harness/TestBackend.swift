import Devices
import Foundation
import Testing

/// Where the tests find their programs and Python.
enum TestPrograms {
    static var python: String { ProcessInfo.processInfo.environment["VRAMD_PYTHON"] ?? "python3" }

    /// `broker_backend.py`, read from the source tree.
    static var backend: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Servers/broker_backend.py").path
    }

    /// The `vramd` binary built beside the test bundle.
    static var vramd: String {
        let here = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        var directory = here.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("vramd")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return here.deletingLastPathComponent().appendingPathComponent("vramd").path
    }

    /// The argv vramd runs for a `process` backend: the test backend on `${PORT}`.
    static func processCommand(_ arguments: [String] = []) -> String {
        let argv = [python, backend, "--port", "${PORT}"] + arguments
        return "[" + argv.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

/// `broker_backend.py` run as a real process, for `http` backends and hooks.
struct TestBackend: Sendable {
    let child: ChildProcess
    let port: Int
    let output: OutputLines
    var url: String { "http://127.0.0.1:\(port)" }

    static func start(_ arguments: [String] = []) async throws -> TestBackend {
        let output = OutputLines()
        let child = try ChildProcess.spawn([TestPrograms.python, TestPrograms.backend, "--port", "0"] + arguments,
                                           onOutputLine: { output.append($0) }, onExit: { _, _ in output.finish() })
        guard let line = await output.first(where: { $0.hasPrefix("listening ") }), let port = Int(line.dropFirst(10)) else {
            throw HarnessError("the test backend exited before it listened: \(output.all.joined(separator: "\n"))")
        }
        return TestBackend(child: child, port: port, output: output)
    }

    /// Runs `body` with a started backend and stops it afterwards, whatever `body` did.
    static func with<T>(_ arguments: [String] = [], _ body: (TestBackend) async throws -> T) async throws -> T {
        let backend = try await start(arguments)
        defer { backend.child.signalGroup(SIGKILL) }
        return try await body(backend)
    }

    /// What the backend counted.
    func stats() async throws -> BackendStats {
        let reply = try await HTTP.get(url + "/stats")
        return try BackendStats(reply.json())
    }

    /// Lets every request waiting on `gate` go on.
    func open(_ gate: String) async throws {
        _ = try await HTTP.post(url + "/open", json: ["gate": gate])
    }

    /// Waits until the backend has started a chat request with `tag`.
    func started(_ tag: String) async {
        _ = await output.first { $0 == "start \(tag)" }
    }

    /// The `backend:` of a model served by this backend; with `loadGate`, its loads wait until
    /// the test opens that gate.
    func yaml(model: String, loadGate: String? = nil, extra: String = "") -> String {
        let gate = loadGate.map { ", gate: \($0)" } ?? ""
        return "{type: http, url: \"\(url)\", load: {path: /load, body: {model: \(model)\(gate)}}, "
            + "unload: {path: /unload, body: {model: \(model)}}\(extra)}"
    }
}

/// `/stats` of a test backend.
struct BackendStats {
    var loads: [String: Int]
    var unloads: [String: Int]
    var loaded: [String]
    var inFlight: Int
    var maxInFlight: Int
    var started: [String]
    var finished: [String]
    var hooks: [[String: Any]]
    var requests: Int
    /// The most models loaded at once.
    var maxLoaded: Int

    init(_ json: [String: Any]) throws {
        loads = json["loads"] as? [String: Int] ?? [:]
        unloads = json["unloads"] as? [String: Int] ?? [:]
        loaded = json["loaded"] as? [String] ?? []
        inFlight = json["in_flight"] as? Int ?? -1
        maxInFlight = json["max_in_flight"] as? Int ?? -1
        started = json["started"] as? [String] ?? []
        finished = json["finished"] as? [String] ?? []
        hooks = json["hooks"] as? [[String: Any]] ?? []
        requests = json["requests"] as? Int ?? -1
        maxLoaded = json["max_loaded"] as? Int ?? -1
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Whether a process is alive (zombies count as gone).
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
}

/// The processes `TestPrograms`' `--pid-dir DIRECTORY` recorded as started.
func startedProcesses(in directory: String) throws -> [Int32] {
    try FileManager.default.contentsOfDirectory(atPath: directory).compactMap(Int32.init)
}

/// Runs `body` with a fresh directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-broker-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
