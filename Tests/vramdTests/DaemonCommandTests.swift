import Foundation
import Testing

/// `vramd ps`, `load`, `stop`, `logs` and `reload` against a running vramd, and against none.
@Suite(.serialized) struct DaemonCommandTests {
    @Test(.timeLimit(.minutes(2)))
    func theVerbsOllamaUsersBringWorkAgainstALiveDaemon() async throws {
        let directory = try LiveBroker.temporaryDirectory()
        let (backend, backendURL) = try await LiveBroker.backend(in: directory)
        defer { backend.stop() }
        let broker = try await LiveBroker.start(
            config: ObserveEndToEndTests.config(backend: backendURL, stateDirectory: directory + "/state"), in: directory)
        defer { broker.vramd.stop() }
        let url = ["--url", broker.url]

        let empty = try CommandRunner.run(["ps"] + url)
        #expect(empty.status == 0 && empty.stdout == "NAME   STATE   DEVICE   SIZE   UNTIL\n", "\(empty)")

        let load = try CommandRunner.run(["load", "gamma"] + url)
        #expect(load.status == 0 && load.stdout == "gamma: loaded\n", "\(load)")
        let loadAlpha = try CommandRunner.run(["load", "alpha"] + url)
        #expect(loadAlpha.status == 0, "\(loadAlpha)")
        let listed = try CommandRunner.run(["ps"] + url)
        let rows = listed.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.count == 3, "\(listed.stdout)")
        let alpha = try #require(rows.first { $0.first == "alpha" }, "\(listed.stdout)")
        #expect(alpha[1] == "ready" && alpha[2] == "gpu0" && alpha[3] == "6" && alpha[4] == "GiB", "\(alpha)")
        #expect(alpha.suffix(2) == ["from", "now"], "alpha keeps its default keep-alive: \(alpha)")
        let gamma = try #require(rows.first { $0.first == "gamma" })
        #expect(gamma[1] == "ready" && gamma.suffix(2) == ["from", "now"], "\(gamma)")

        // gamma is a process backend: its output is in its log.
        let logs = try CommandRunner.run(["logs", "gamma", "--lines", "20"] + url)
        #expect(logs.status == 0 && logs.stdout.contains("listening"), "\(logs)")

        let stop = try CommandRunner.run(["stop", "alpha"] + url)
        #expect(stop.status == 0 && stop.stdout == "alpha: unloaded\n", "\(stop)")
        #expect(try CommandRunner.run(["ps"] + url).stdout.split(separator: "\n").count == 2)

        let unknown = try CommandRunner.run(["load", "alfa"] + url)
        #expect(unknown.status == 1 && unknown.stderr.contains("no model named 'alfa'") && unknown.stderr.contains("alpha"), "\(unknown)")
        let unknownLogs = try CommandRunner.run(["logs", "alfa"] + url)
        #expect(unknownLogs.status == 1 && unknownLogs.stderr.contains("alfa"), "\(unknownLogs)")

        // The config file read again: unchanged, then with a setting fixed at start, then broken.
        let reloaded = try CommandRunner.run(["reload"] + url)
        #expect(reloaded.status == 0 && reloaded.stdout == "config reloaded\n", "\(reloaded)")
        let configFile = directory + "/vramd.yaml"
        let original = try String(contentsOfFile: configFile, encoding: .utf8)
        try original.replacingOccurrences(of: "capacity: 10GiB", with: "capacity: 12GiB").write(toFile: configFile, atomically: true, encoding: .utf8)
        let fixed = try CommandRunner.run(["reload"] + url)
        #expect(fixed.status == 0 && fixed.stdout == "config reloaded\nstill running as started, until vramd restarts: devices\n", "\(fixed)")
        try (original + "\nqueue: {max: lots}\n").write(toFile: configFile, atomically: true, encoding: .utf8)
        let broken = try CommandRunner.run(["reload"] + url)
        #expect(broken.status == 1 && broken.stderr.contains("queue.max"), "\(broken)")
        #expect(try CommandRunner.run(["ps"] + url).status == 0, "the old config keeps running")

        // The config's listen address is the default URL.
        let fromConfig = directory + "/listen.yaml"
        let port = try #require(URL(string: broker.url)?.port)
        try "listen: 127.0.0.1:\(port)\nmodels: {}\n".write(toFile: fromConfig, atomically: true, encoding: .utf8)
        #expect(try CommandRunner.run(["ps", "--config", fromConfig]).status == 0)
    }

    @Test func noDaemonIsSaidPlainly() throws {
        for verb in [["ps"], ["load", "gemma"], ["stop", "gemma"], ["logs", "gemma"], ["reload"]] {
            let result = try CommandRunner.run(verb + ["--url", "http://127.0.0.1:9"])
            #expect(result.status == 3, "\(verb): \(result)")
            #expect(result.stderr.contains("cannot reach vramd at http://127.0.0.1:9") && result.stderr.contains("vramd serve"), "\(result)")
        }
    }
}
