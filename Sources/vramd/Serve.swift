import ArgumentParser
import Broker
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import VRAMConfig

extension VRAMD {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the broker: queue requests, make room, load models and proxy to them."
        )

        @Option(help: "The YAML config file.")
        var config: String

        @Option(help: "trace, debug, info, notice, warning, error or critical.")
        var logLevel: String = "info"

        @Option(help: "plain, or json: one JSON object per line.")
        var logFormat: String = "plain"

        func validate() throws {
            guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
            guard ["plain", "json"].contains(logFormat) else { throw ValidationError("unknown --log-format '\(logFormat)': plain or json") }
        }

        func run() async throws {
            let loaded = try loadConfigOrExit(config)
            let level = Logger.Level(rawValue: logLevel) ?? .info
            let json = logFormat == "json"
            LoggingSystem.bootstrap { label in
                var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "vramd")
            logger.info("starting", metadata: ["config": "\(loaded.file)"])
            let server: BrokerServer
            do {
                server = try await BrokerServer.make(config: loaded, logger: logger)
            } catch {
                printError("vramd: \(error)")
                throw ExitCode(1)
            }
            // Once, here only: libraries reporting through swift-metrics land in vramd's `/metrics`.
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: server.scheduler.observer.metrics.registry))
            let services = server.services(config: loaded) { host, port in
                // Scripts and tests wait for this line (and learn the port when it was 0).
                let line = "vramd listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
            var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            groupConfiguration.maximumGracefulShutdownDuration = loaded.broker.shutdownGrace + .seconds(30)
            try await ServiceGroup(configuration: groupConfiguration).run()
        }
    }
}
