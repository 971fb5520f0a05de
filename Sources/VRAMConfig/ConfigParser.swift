import Foundation
import VRAMPolicy
import Yams

extension Config {
    static let topLevelKeys = [
        "listen", "policy", "devices", "models", "queue", "auth", "routing", "max_body", "state_dir", "log_dir",
        "hooks", "audio_proxy", "loading_feedback", "shutdown_grace", "idle_timeout",
    ]
    static let policyKeys = ["upward_eviction", "min_residency", "swap_quantum", "prompt_cache_disk", "prompt_cache_timeout", "prewarm"]
    static let deviceKeys = ["id", "kind", "capacity", "cushion", "index", "serialize"]
    static let modelKeys = [
        "kind", "memory", "priority", "keep_alive", "pinned", "qos", "reserve", "coexists_with",
        "exclusive_group", "max_concurrency", "device", "aliases", "backend", "paths", "preload", "prompt_cache",
    ]
    static let ggufKeys = ["gguf", "context", "parallel", "kv_type", "flash_attention", "gpu_layers", "budget", "swa_full"]
    static let defaultRealCushion: Int64 = 256 << 20

    /// Reads and validates a config file.
    ///
    /// - Throws: ``ConfigErrors`` listing every problem, each with the file, key path and line.
    public static func load(path: String) throws(ConfigErrors) -> Config {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors([ConfigError(file: path, path: "", message: "cannot read the file: \(error.localizedDescription)")])
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and validates config text; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> Config {
        var reader = ConfigReader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigErrors([ConfigError(file: file, path: "", message: "the file is empty")])
            }
            root = node
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors([ConfigError(file: file, path: "", message: "not valid YAML: \(error)")])
        }

        var config = Config(file: file, listen: ListenAddress(host: "127.0.0.1", port: 8770),
                            policy: PolicyOptions(), devices: [], models: [])
        var modelsNode: Node?
        for (key, value) in reader.mapping(root, at: "", allowed: topLevelKeys) ?? [] {
            switch key {
            case "listen": config.listen = reader.listenAddress(value, at: key) ?? config.listen
            case "policy": config.policy = reader.policy(value, at: key, broker: &config.broker)
            case "devices": config.devices = reader.devices(value, at: key)
            case "models": modelsNode = value
            default: reader.brokerSetting(key, value, into: &config.broker, baseDirectory: config.baseDirectory)
            }
        }
        if config.devices.isEmpty && (root["devices"] == nil) {
            config.devices = [DeviceConfig(id: "host", kind: .host, capacity: nil, cushion: defaultRealCushion, index: nil)]
        }
        if let modelsNode {
            let directory = config.baseDirectory.hasPrefix("/") ? config.baseDirectory
                : FileManager.default.currentDirectoryPath + "/" + config.baseDirectory
            config.models = reader.models(modelsNode, devices: config.devices, configDirectory: directory)
        }
        reader.validate(config)
        reader.validateBroker(config)
        if !reader.errors.isEmpty { throw ConfigErrors(reader.errors) }
        return config
    }
}

extension ConfigReader {
    mutating func listenAddress(_ node: Node, at path: String) -> ListenAddress? {
        guard let text = string(node, at: path) else { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            fail(path, node, "expected host:port like 127.0.0.1:8770, found '\(text)'")
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            fail(path, node, "the host is missing in '\(text)'")
            return nil
        }
        return ListenAddress(host: host, port: port)
    }

    mutating func policy(_ node: Node, at path: String, broker: inout BrokerSettings) -> PolicyOptions {
        var options = PolicyOptions()
        for (key, value) in mapping(node, at: path, allowed: Config.policyKeys) ?? [] {
            let keyPath = join(path, key)
            switch key {
            case "swap_quantum":
                for (quantumKey, quantumValue) in mapping(value, at: keyPath, allowed: ["requests", "time"]) ?? [] {
                    if quantumKey == "requests" {
                        broker.swapQuantumRequests = int(quantumValue, at: "\(keyPath).requests", range: 0...10_000) ?? broker.swapQuantumRequests
                    } else {
                        broker.swapQuantumTime = duration(quantumValue, at: "\(keyPath).time") ?? broker.swapQuantumTime
                    }
                }
            case "upward_eviction":
                options.upwardEviction = choice(value, at: keyPath, PolicyOptions.UpwardEviction.allCases.map { ($0.rawValue, $0) })
                    ?? options.upwardEviction
            case "min_residency": options.minResidency = duration(value, at: keyPath) ?? options.minResidency
            case "prompt_cache_disk": broker.promptCacheDisk = size(value, at: keyPath) ?? broker.promptCacheDisk
            case "prompt_cache_timeout": broker.promptCacheTimeout = duration(value, at: keyPath) ?? broker.promptCacheTimeout
            case "prewarm":
                broker.prewarm = choice(value, at: keyPath, BrokerSettings.Prewarm.allCases.map { ($0.rawValue, $0) }) ?? broker.prewarm
            default: break
            }
        }
        return options
    }

    mutating func devices(_ node: Node, at path: String) -> [DeviceConfig] {
        guard case .sequence(let sequence) = node else {
            fail(path, node, "expected a list of devices (- id: gpu0 ...), found \(describe(node))")
            return []
        }
        var devices: [DeviceConfig] = []
        var nvidiaOrdinal = 0
        for (index, item) in sequence.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let entries = mapping(item, at: itemPath, allowed: Config.deviceKeys) else { continue }
            var id: DeviceID?
            var kind: DeviceConfig.Kind?
            var capacity: Int64?, cushion: Int64?, gpuIndex: Int?, serialize = false
            for (key, value) in entries {
                let keyPath = "\(itemPath).\(key)"
                switch key {
                case "id": id = string(value, at: keyPath).map { DeviceID($0) }
                case "kind": kind = choice(value, at: keyPath, DeviceConfig.Kind.allCases.map { ($0.rawValue, $0) })
                case "capacity": capacity = size(value, at: keyPath)
                case "cushion": cushion = size(value, at: keyPath)
                case "index": gpuIndex = int(value, at: keyPath, range: 0...63)
                case "serialize": serialize = bool(value, at: keyPath) ?? false
                default: break
                }
            }
            guard let id else {
                fail("\(itemPath).id", item, "every device needs an id")
                continue
            }
            let resolvedKind = kind ?? .simulated
            if kind == nil { fail("\(itemPath).kind", item, "missing; one of simulated, host, nvidia") }
            if resolvedKind == .simulated && capacity == nil && !entries.contains(where: { $0.key == "capacity" }) {
                fail("\(itemPath).capacity", item, "a simulated device needs a capacity")
            }
            if devices.contains(where: { $0.id == id }) { fail("\(itemPath).id", item, "device '\(id)' is defined twice") }
            if resolvedKind == .nvidia {
                gpuIndex = gpuIndex ?? nvidiaOrdinal
                nvidiaOrdinal += 1
            } else if gpuIndex != nil {
                fail("\(itemPath).index", item, "only nvidia devices have an index")
            }
            devices.append(DeviceConfig(id: id, kind: resolvedKind, capacity: capacity,
                                        cushion: cushion ?? (resolvedKind == .simulated ? 0 : Config.defaultRealCushion),
                                        index: gpuIndex, serialize: serialize))
        }
        return devices
    }
}
