import AsyncHTTPClient
import Backends
import Devices
import Foundation
import GGUF
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import UnixSignals
import VRAMConfig
import VRAMPolicy

/// Everything `vramd serve` runs, built from a config: the device probes, the backends, the
/// scheduler, the HTTP application, and the services around them.
public struct BrokerServer: Sendable {
    public let scheduler: Scheduler
    public let configPath: String
    /// The config vramd started with: what a reload cannot change is compared against it.
    let started: Config
    /// Where prompt caches are kept, for a reload that turns `prompt_cache` on.
    let promptCacheRoot: String
    let logger: Logger

    /// Builds the scheduler for `config`, probing each real device once.
    ///
    /// - Throws: ``ConfigErrors`` for footprints that cannot be resolved, ``DeviceProbeError``
    ///   when a configured device cannot be read (an nvidia device without a driver).
    public static func make(config: Config, logger: Logger) async throws -> BrokerServer {
        var probes: [DeviceID: any DeviceProbe] = [:]
        var nvidia: (any NvidiaQuery)?
        for device in config.devices {
            switch device.kind {
            case .simulated:
                probes[device.id] = SimulatedDeviceProbe(capacity: UInt64(max(0, device.capacity ?? 0)), name: device.id.rawValue)
            case .host:
                probes[device.id] = HostDeviceProbe()
            case .nvidia:
                if nvidia == nil { nvidia = try await NvidiaDeviceProbe.detectQuery(logger: logger) }
                probes[device.id] = NvidiaDeviceProbe(selector: .index(device.index ?? 0), query: nvidia!)
            }
            _ = try await probes[device.id]!.read()
        }
        let stateDirectory = config.broker.stateDirectory
        let footprints = FootprintStore(path: FootprintStore.defaultPath(stateDirectory: stateDirectory), logger: logger)
        let logDirectory = config.broker.logDirectory ?? stateDirectory.map { $0 + "/logs" }
        let client = HTTPClient.backends
        // Prompt caches live beside the measured footprints.
        let promptCacheRoot = URL(filePath: FootprintStore.defaultPath(stateDirectory: stateDirectory)).deletingLastPathComponent().path + "/prompt-cache"
        let factory: @Sendable (ModelConfig) -> (any Backend)? = { model in
            switch model.backend {
            case .process(var configuration):
                configuration.command += model.defaultAliasArguments()
                if model.promptCache {
                    let directory = PromptCache.directory(root: promptCacheRoot, model: model.id)
                    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    configuration.command += PromptCache.arguments(directory: directory, slidingWindow: Self.hasSlidingWindow(model, config))
                }
                return ProcessBackend(model: model.id, configuration: configuration, logDirectory: logDirectory, httpClient: client, logger: logger)
            case .http(let configuration): return HTTPBackend(model: model.id, configuration: configuration, httpClient: client)
            case .ollama(let configuration): return OllamaBackend(model: model.id, configuration: configuration, httpClient: client)
            case .external(let configuration): return ExternalBackend(model: model.id, configuration: configuration, httpClient: client)
            case nil: return nil
            }
        }
        // A model measured before is planned with what it really held; the declared or estimated
        // figure is only the first guess.
        var measured: [ModelID: UInt64] = [:]
        for model in config.models {
            measured[model.id] = await footprints.measured(for: model.footprintKey)
        }
        let scheduler = try Scheduler(config: config, probes: probes, footprints: footprints, footprint: { model in
            if let bytes = measured[model.id] { return (Int64(clamping: bytes), .measured) }
            let resolved = try Self.footprint(model, in: config)
            return (resolved.bytes, resolved.source)
        }, backendFactory: factory, logger: logger)
        if config.models.contains(where: \.promptCache) { await scheduler.usePromptCache(root: promptCacheRoot) }
        await scheduler.refreshDevices()
        return BrokerServer(scheduler: scheduler, configPath: config.file, started: config, promptCacheRoot: promptCacheRoot, logger: logger)
    }

    /// Whether the model's GGUF has sliding-window layers (a restored prompt then needs `--swa-full`).
    static func hasSlidingWindow(_ model: ModelConfig, _ config: Config) -> Bool {
        guard let path = model.ggufPath(resolve: config.resolvePath), let file = try? GGUFFile.open(path: path),
              let shape = try? ModelShape(file: file) else { return false }
        return shape.slidingWindow > 0
    }

    static func footprint(_ model: ModelConfig, in config: Config) throws -> Footprint {
        do { return try Footprint.resolve(model, in: config) } catch { throw ConfigErrors([error]) }
    }

    /// Reads the config file again and applies its models and ledger policy; an invalid file is
    /// refused and the running config stays.
    ///
    /// - Returns: the keys that changed but take a restart (``Config/keysNeedingRestart(running:)``).
    @discardableResult
    public func reload() async throws -> [String] {
        let config: Config
        do {
            config = try Config.load(path: configPath)
            for model in config.models { _ = try Self.footprint(model, in: config) }
        } catch let errors as ConfigErrors {
            logger.error("config reload refused", metadata: ["errors": "\(errors)"])
            throw BrokerError(code: "invalid_config", statusCode: 400, message: "the new config is invalid; the old one keeps running:\n\(errors)")
        }
        // Before the models change: a model that turns prompt_cache on may load at once.
        if config.models.contains(where: \.promptCache) { await scheduler.usePromptCache(root: promptCacheRoot) }
        try await scheduler.reload(config, footprint: { model in
            let footprint = try Self.footprint(model, in: config)
            return (footprint.bytes, footprint.source)
        })
        let needsRestart = config.keysNeedingRestart(running: started)
        if !needsRestart.isEmpty {
            logger.warning("config reloaded; these changes take effect only after a restart",
                           metadata: ["keys": "\(needsRestart.joined(separator: ", "))"])
        }
        return needsRestart
    }

    /// The router with every route and middleware.
    public func router(settings: BrokerSettings) -> Router<BrokerRequestContext> {
        let router = Router(context: BrokerRequestContext.self)
        router.middlewares.add(ErrorMiddleware())
        router.middlewares.add(MetricsMiddleware())
        if case .token(let token) = settings.auth { router.middlewares.add(AuthMiddleware(token: token)) }
        Routes(scheduler: scheduler, proxy: Proxy(), live: scheduler.live, reload: { try await self.reload() })
            .add(to: router)
        let configFile = configPath
        OllamaRoutes(scheduler: scheduler, resolvePath: { Config.resolvePath($0, inConfigFile: configFile) }).add(to: router)
        return router
    }

    /// The HTTP application and the services beside it, in the order a ServiceGroup runs them
    /// (it stops them in reverse: the server stops accepting and drains first, then the
    /// scheduler unloads what vramd loaded).
    public func services(config: Config, onListening: @escaping @Sendable (String, Int) async -> Void) -> [any Service] {
        let app = Application(
            router: router(settings: config.broker),
            server: HTTPServerBuilder { responder in BrokerChannel(responder: responder, settings: config.broker) },
            configuration: ApplicationConfiguration(address: .hostname(config.listen.host, port: config.listen.port), serverName: "vramd"),
            onServerRunning: { channel in
                await onListening(config.listen.host, channel.localAddress?.port ?? config.listen.port)
            },
            logger: logger)
        return [SchedulerService(scheduler: scheduler, logger: logger), ReloadOnHangup(server: self), app]
    }
}

extension ModelConfig {
    /// The key measured footprints are remembered under: what shapes the memory of a model
    /// estimated from its GGUF file, else its name alone.
    var footprintKey: FootprintKey {
        guard case .gguf(let spec) = memory else { return FootprintKey(model: id, variant: "declared") }
        let context: Int? = if case .tokens(let n) = spec.context { n } else { nil }
        return FootprintKey(model: id, file: spec.path, contextLength: context, parallel: spec.parallel, kvType: spec.kvType)
    }
}

/// The scheduler's background work: the reaper (keep-alive), device readings, preloads, and on
/// shutdown the unloading of everything vramd started.
struct SchedulerService: Service {
    let scheduler: Scheduler
    let logger: Logger

    func run() async throws {
        await scheduler.preload()
        try? await cancelWhenGracefulShutdown {
            var tick = 0
            while true {
                try await Task.sleep(for: .seconds(1))
                tick += 1
                await scheduler.reapExpired()
                await scheduler.refreshDevices()
                if tick % 5 == 0 {
                    await scheduler.probeHealth()
                    await scheduler.remeasureFootprints()
                }
            }
        }
        logger.info("stopping: unloading every model vramd loaded")
        await scheduler.shutdown()
    }
}

/// SIGHUP reloads the config, as `POST /v1/admin/reload` does.
struct ReloadOnHangup: Service {
    let server: BrokerServer

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            _ = try? await server.reload()  // logged either way
        }
    }
}
