import ArgumentParser
import Broker
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension VRAMD {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a running vramd: each device's memory as a bar, the models, the queue."
        )

        @Option(help: "vramd's address.")
        var url: String = "http://127.0.0.1:8770"

        @Option(help: "The API token, when vramd has auth on (or VRAMD_TOKEN).")
        var token: String?

        @Flag(help: "Keep redrawing as events arrive.")
        var watch = false

        @Option(help: "The width of the bars.")
        var width: Int = 60

        func validate() throws {
            guard width >= 10 && width <= 400 else { throw ValidationError("--width must be between 10 and 400") }
        }

        func run() async throws {
            let client = StatusClient(baseURL: url, token: token ?? ProcessInfo.processInfo.environment["VRAMD_TOKEN"])
            let terminal = isatty(STDOUT_FILENO) == 1
            do {
                try await show(client, terminal: terminal, event: nil)
                guard watch else { return }
                // Redrawn on each event; every few seconds too, as free memory moves without one.
                let (ticks, tick) = AsyncStream.makeStream(of: BrokerEvent?.self, bufferingPolicy: .bufferingNewest(1))
                let events = Task {
                    defer { tick.finish() }
                    for try await event in client.events() { tick.yield(event) }
                }
                let timer = Task {
                    while (try? await Task.sleep(for: .seconds(2))) != nil { tick.yield(nil) }
                }
                defer { events.cancel(); timer.cancel() }
                var last: BrokerEvent?
                for await event in ticks {
                    last = event ?? last
                    try await show(client, terminal: terminal, event: last)
                }
                if case .failure(let error) = await events.result { throw error }
            } catch let failure as StatusClient.Failure {
                printError("vramd status: \(failure)")
                throw ExitCode(1)
            } catch let error as StatusClient.Unreachable {
                printError("vramd status: \(error)")
                throw DaemonExit.notRunning
            }
        }

        private func show(_ client: StatusClient, terminal: Bool, event: BrokerEvent?) async throws {
            let report = try await client.status()
            var text = report.rendered(width: width, color: terminal)
            if let event { text += "last event: \(event.summary)\n" }
            // A terminal gets the picture redrawn in place; a pipe gets one picture after another.
            let frame = watch && terminal ? "\u{1B}[H\u{1B}[2J" + text : (watch ? text + "\n" : text)
            FileHandle.standardOutput.write(Data(frame.utf8))
        }
    }
}
