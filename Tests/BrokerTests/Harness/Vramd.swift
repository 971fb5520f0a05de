import Devices
import Foundation
import Testing

/// The built `vramd serve` run as a real process on a config file, listening on a port of its
/// choosing; every line it prints is kept for the test to wait on.
struct Vramd: Sendable {
    let child: ChildProcess
    let url: String
    let output: OutputLines
    let configPath: String
    let directory: String

    /// Writes `config` (without `listen` and `state_dir`, which are added) and starts vramd on it.
    ///
    /// - Parameter environment: variables set for vramd on top of the tests' own (a `PATH` with
    ///   a fake `nvidia-smi` first).
    static func start(_ config: String, in directory: String, arguments: [String] = [],
                      environment: [String: String] = [:]) async throws -> Vramd {
        let configPath = directory + "/vramd.yaml"
        try write(config, to: configPath, directory: directory)
        let output = OutputLines()
        let options = ChildProcess.Options(
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 })
        let child = try ChildProcess.spawn([TestPrograms.vramd, "serve", "--config", configPath] + arguments, options: options,
                                           onOutputLine: { output.append($0) }, onExit: { _, _ in output.finish() })
        guard let line = await output.first(where: { $0.hasPrefix("vramd listening on ") }) else {
            throw HarnessError("vramd exited before it listened:\n\(output.all.joined(separator: "\n"))")
        }
        return Vramd(child: child, url: String(line.dropFirst("vramd listening on ".count)), output: output,
                     configPath: configPath, directory: directory)
    }

    /// Runs `body` with vramd started on `config` in a fresh directory, and stops vramd (and what
    /// it started) afterwards.
    static func with<T>(_ config: String, arguments: [String] = [], environment: [String: String] = [:],
                        _ body: (Vramd) async throws -> T) async throws -> T {
        try await withTemporaryDirectory { directory in
            let vramd = try await start(config, in: directory, arguments: arguments, environment: environment)
            do {
                let result = try await body(vramd)
                await vramd.stop()
                return result
            } catch {
                await vramd.stop(killAfter: .seconds(2))
                print("vramd output:\n" + vramd.output.all.suffix(60).joined(separator: "\n"))
                throw error
            }
        }
    }

    static func write(_ config: String, to path: String, directory: String) throws {
        let full = "listen: 127.0.0.1:0\nstate_dir: \(directory)/state\n" + config
        try full.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        _ = rename(path + ".tmp", path)
    }

    /// Replaces the config file (for reloads).
    func rewrite(_ config: String) throws {
        try Self.write(config, to: configPath, directory: directory)
    }

    /// SIGTERM, then waits for the exit; SIGKILL after `killAfter`.
    @discardableResult
    func stop(killAfter: Duration = .seconds(20)) async -> Devices.ExitStatus {
        child.signal(SIGTERM)
        let killer = Task {
            try await Task.sleep(for: killAfter)
            child.signal(SIGKILL)
        }
        defer { killer.cancel() }
        return await child.waitForExit()
    }

    // MARK: Requests

    func chat(_ model: String, tag: String = "", headers: [String: String] = [:], _ extra: [String: Any] = [:]) async throws -> HTTP.Reply {
        var body: [String: Any] = ["model": model, "tag": tag, "messages": [["role": "user", "content": "hi"]]]
        body.merge(extra) { $1 }
        return try await HTTP.post(url + "/v1/chat/completions", json: body, headers: headers)
    }

    func status() async throws -> [String: Any] {
        try await HTTP.get(url + "/v1/status").json()
    }

    /// `/v1/status` of one model.
    func model(_ id: String) async throws -> [String: Any] {
        let models = try await status()["models"] as? [[String: Any]] ?? []
        return try #require(models.first { $0["id"] as? String == id }, "no model \(id) in /v1/status")
    }

    func scheduler() async throws -> [String: Any] {
        try await status()["scheduler"] as? [String: Any] ?? [:]
    }

    /// Polls `/v1/status` until `condition` holds, for at most `timeout` (for what only time
    /// brings about, such as keep-alive, or for state with no line to wait on).
    func waitForStatus(timeout: Duration = .seconds(10), _ what: String,
                       _ condition: ([String: Any]) -> Bool) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if condition(try await status()) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("timed out waiting for \(what): \(try await status())")
    }

    func waitForModel(_ id: String, timeout: Duration = .seconds(10), _ what: String,
                      _ condition: @escaping ([String: Any]) -> Bool) async throws {
        try await waitForStatus(timeout: timeout, "\(id): \(what)") { status in
            let models = status["models"] as? [[String: Any]] ?? []
            return models.first { $0["id"] as? String == id }.map(condition) ?? false
        }
    }
}

extension [String: Any] {
    var state: String? { self["state"] as? String }
    func int(_ key: String) -> Int { self[key] as? Int ?? -1 }
}
