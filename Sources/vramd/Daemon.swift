import ArgumentParser
import Broker
import Foundation
import VRAMConfig
import VRAMPolicy

/// Where a running vramd is: `--url`, else the `listen` address of `--config`, else the default.
struct DaemonOptions: ParsableArguments {
    @Option(help: "vramd's address (default: the config's listen address, else http://127.0.0.1:8770).")
    var url: String?

    @Option(help: "A config whose listen address to use.")
    var config: String?

    @Option(help: "The API token, when vramd has auth on (or VRAMD_TOKEN).")
    var token: String?

    func client() throws -> StatusClient {
        var base = url ?? "http://127.0.0.1:8770"
        if url == nil, let config {
            let listen = try loadConfigOrExit(config).listen
            // A server listening on every address is reached on this machine's loopback.
            let host = ["0.0.0.0", "::"].contains(listen.host) ? "127.0.0.1" : listen.host
            base = "http://\(host.contains(":") ? "[\(host)]" : host):\(listen.port)"
        }
        return StatusClient(baseURL: base, token: token ?? ProcessInfo.processInfo.environment["VRAMD_TOKEN"])
    }
}

/// Exit statuses of the commands that talk to a running vramd.
enum DaemonExit {
    /// vramd refused: an unknown model, a load that failed.
    static let refused = ExitCode(1)
    /// Nothing answers at the address.
    static let notRunning = ExitCode(3)

    /// Runs `body`, turning a daemon that is not there into a message and ``notRunning``.
    static func run(_ command: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as StatusClient.Unreachable {
            printError("vramd \(command): \(error)")
            throw notRunning
        } catch let failure as StatusClient.Failure {
            printError("vramd \(command): \(failure)")
            throw refused
        }
    }
}

extension VRAMD {
    struct PS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ps", abstract: "List the models a running vramd has loaded: where, how big, until when.")

        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            let client = try daemon.client()
            try await DaemonExit.run("ps") {
                let report = try await client.status()
                let loaded = report.models.filter { [.ready, .loading, .unloading].contains($0.state) }
                var rows = [["NAME", "STATE", "DEVICE", "SIZE", "UNTIL"]]
                for model in loaded {
                    let until: String
                    if model.inFlight > 0 {
                        until = "busy"
                    } else if let seconds = model.keepAliveExpiresIn {
                        until = seconds <= 0 ? "now" : "\(DurationText.format(.seconds(Int64(seconds.rounded())))) from now"
                    } else {
                        until = "forever"
                    }
                    rows.append([model.id, model.state.rawValue, model.device ?? "-", ByteSize.format(model.footprint), until])
                }
                FileHandle.standardOutput.write(Data(Self.table(rows).utf8))
            }
        }

        static func table(_ rows: [[String]]) -> String {
            let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
            return rows.map { row in
                zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "   ")
                    .trimmingCharacters(in: .whitespaces)
            }.joined(separator: "\n") + "\n"
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a model in a running vramd, evicting others if it must.")

        @Argument(help: "The model's name or an alias.")
        var model: String

        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await modelAction(daemon, "load", model, done: "loaded")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unload a model from a running vramd.")

        @Argument(help: "The model's name or an alias.")
        var model: String

        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await modelAction(daemon, "unload", model, done: "unloaded")
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a running vramd read its config file again (as SIGHUP does), and say what needs a restart.")

        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            let client = try daemon.client()
            try await DaemonExit.run("reload") {
                let answer = try await client.call(.POST, "/v1/admin/reload")
                guard answer.status == 200 else { throw StatusClient.Failure(description: answer.message) }
                let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                let needsRestart = object?["needs_restart"] as? [String] ?? []
                print("config reloaded")
                if !needsRestart.isEmpty {
                    print("still running as started, until vramd restarts: \(needsRestart.joined(separator: ", "))")
                }
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a process backend's output; -f follows it.")

        @Argument(help: "The model's name or an alias.")
        var model: String

        @Flag(name: [.short, .long], help: "Keep printing as the backend writes.")
        var follow = false

        @Option(help: "How many of the last lines to print first.")
        var lines = 100

        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            let client = try daemon.client()
            try await DaemonExit.run("logs") {
                let path = "/v1/models/\(Self.escaped(model))/logs?lines=\(max(0, lines))&follow=\(follow)"
                for try await chunk in try await client.stream(path) {
                    FileHandle.standardOutput.write(Data(chunk.readableBytesView))
                }
            }
        }

        static func escaped(_ name: String) -> String {
            name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
        }
    }
}

/// `POST /v1/models/{model}/{action}`, said in words.
private func modelAction(_ daemon: DaemonOptions, _ action: String, _ model: String, done: String) async throws {
    let client = try daemon.client()
    try await DaemonExit.run(action == "unload" ? "stop" : action) {
        let answer = try await client.call(.POST, "/v1/models/\(VRAMD.Logs.escaped(model))/\(action)")
        guard answer.status == 200 else { throw StatusClient.Failure(description: answer.message) }
        print("\(model): \(done)")
    }
}
