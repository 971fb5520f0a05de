import VRAMPolicy
import Yams

extension ConfigReader {
    mutating func models(_ node: Node, devices: [DeviceConfig], configDirectory: String) -> [ModelConfig] {
        var models: [ModelConfig] = []
        for (name, value) in mapping(node, at: "models", allowed: []) ?? [] {
            // Routers read the resident models as a comma-separated list (docs/cluster.md).
            if name.contains(",") { fail("models.\(name)", value, "a model name cannot contain a comma") }
            if let model = model(ModelID(name), value, at: "models.\(name)", configDirectory: configDirectory) { models.append(model) }
        }
        return models
    }

    private mutating func model(_ id: ModelID, _ node: Node, at path: String, configDirectory: String) -> ModelConfig? {
        guard let entries = mapping(node, at: path, allowed: Config.modelKeys) else { return nil }
        var kind = ModelKind.other
        var memory: MemorySpec?
        var priority: Int?
        var keepAlive: KeepAlive?
        var pinned = false, qos = QoS.burstable, reserve: Int64 = 0
        var coexists: [ModelID] = [], aliases: [String] = []
        var group: String?, maxConcurrency = 1, device: DeviceID?
        var backend: BackendSpec?, paths: [String: String] = [:], preload = false, promptCache = false
        for (key, value) in entries {
            let keyPath = "\(path).\(key)"
            switch key {
            case "kind": kind = choice(value, at: keyPath, ModelKind.allCases.map { ($0.rawValue, $0) }) ?? kind
            case "memory": memory = memorySpec(value, at: keyPath)
            case "priority": priority = int(value, at: keyPath, range: 0...4)
            case "keep_alive": keepAlive = self.keepAlive(value, at: keyPath)
            case "pinned": pinned = bool(value, at: keyPath) ?? pinned
            case "qos": qos = choice(value, at: keyPath, QoS.allCases.map { ($0.rawValue, $0) }) ?? qos
            case "reserve": reserve = size(value, at: keyPath) ?? reserve
            case "coexists_with": coexists = (stringList(value, at: keyPath) ?? []).map { ModelID($0) }
            case "exclusive_group": group = optionalString(value, at: keyPath) ?? nil
            case "max_concurrency": maxConcurrency = int(value, at: keyPath, range: 1...4096) ?? maxConcurrency
            case "device": device = (optionalString(value, at: keyPath) ?? nil).map { DeviceID($0) }
            case "aliases":
                aliases = stringList(value, at: keyPath) ?? []
                for alias in aliases where alias.contains(",") { fail(keyPath, value, "an alias cannot contain a comma: '\(alias)'") }
            case "backend": backend = self.backend(value, at: keyPath, configDirectory: configDirectory)
            case "paths":
                for (kind, pathNode) in mapping(value, at: keyPath, allowed: []) ?? [] {
                    if let text = string(pathNode, at: "\(keyPath).\(kind)") { paths[kind] = text }
                }
            case "preload": preload = bool(value, at: keyPath) ?? false
            case "prompt_cache": promptCache = bool(value, at: keyPath) ?? false
            default: break
            }
        }
        let spawnsProcess = if case .process? = backend { true } else { false }
        if promptCache && !spawnsProcess {
            fail("\(path).prompt_cache", node, "needs a process backend running llama-server (it saves and restores the server's slots)")
        }
        guard var memory else {
            if !entries.contains(where: { $0.key == "memory" }) {
                fail("\(path).memory", node, "missing; a size like 4GiB or {gguf: model.gguf, context: 8192}")
            }
            return nil
        }
        // A restored prompt is reused only with a full-size sliding-window cache, which the
        // estimate must then count.
        if promptCache, case .gguf(var spec) = memory {
            spec.swaFull = true
            memory = .gguf(spec)
        }
        return ModelConfig(id: id, kind: kind, memory: memory, priority: priority ?? kind.defaultPriority,
                           keepAlive: keepAlive ?? (pinned ? .forever : .duration(.seconds(300))),
                           pinned: pinned, qos: qos, reserve: reserve, coexistsWith: coexists,
                           exclusiveGroup: group, maxConcurrency: maxConcurrency, device: device, aliases: aliases,
                           backend: backend, paths: paths, preload: preload, promptCache: promptCache)
    }

    private mutating func keepAlive(_ node: Node, at path: String) -> KeepAlive? {
        if case .scalar(let scalar) = node, scalar.string == "forever" { return .forever }
        guard case .scalar(let scalar) = node, let duration = DurationText.parse(scalar.string) else {
            fail(path, node, "expected a duration like 10m, 0s (unload when idle) or forever, found \(describe(node))")
            return nil
        }
        return .duration(duration)
    }

    private mutating func memorySpec(_ node: Node, at path: String) -> MemorySpec? {
        if case .scalar = node { return size(node, at: path).map(MemorySpec.declared) }
        guard let entries = mapping(node, at: path, allowed: Config.ggufKeys) else { return nil }
        var spec = GGUFMemorySpec(path: "", context: .tokens(4096), parallel: 1, kvType: "f16",
                                  flashAttention: false, gpuLayers: nil, budget: nil)
        var sawPath = false
        for (key, value) in entries {
            let keyPath = "\(path).\(key)"
            switch key {
            case "gguf":
                if let file = string(value, at: keyPath) { spec.path = file; sawPath = true }
            case "context":
                if case .scalar(let scalar) = value, scalar.string == "fit" {
                    spec.context = .fit
                } else if let tokens = int(value, at: keyPath, range: 1...16_777_216) {
                    spec.context = .tokens(tokens)
                }
            case "parallel": spec.parallel = int(value, at: keyPath, range: 1...256) ?? spec.parallel
            case "kv_type":
                spec.kvType = choice(value, at: keyPath, Self.kvTypes.map { ($0, $0) }) ?? spec.kvType
            case "flash_attention": spec.flashAttention = bool(value, at: keyPath) ?? false
            case "gpu_layers": spec.gpuLayers = int(value, at: keyPath, range: 0...100_000)
            case "budget": spec.budget = size(value, at: keyPath)
            case "swa_full": spec.swaFull = bool(value, at: keyPath) ?? false
            default: break
            }
        }
        guard sawPath else {
            fail("\(path).gguf", node, "missing; the path of the model's .gguf file")
            return nil
        }
        if spec.budget != nil && spec.context != .fit {
            fail("\(path).budget", node, "only used with context: fit")
        }
        return .gguf(spec)
    }

    static let kvTypes = ["f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"]

    /// Rules that span keys: references to models and devices, and combinations that would make
    /// the planner guess.
    mutating func validate(_ config: Config) {
        let modelIDs = config.models.map(\.id.rawValue)
        let deviceIDs = config.devices.map(\.id.rawValue)
        var names: [String: ModelID] = [:]
        for model in config.models { names[model.id.rawValue] = model.id }
        for model in config.models {
            let path = "models.\(model.id)"
            for (index, other) in model.coexistsWith.enumerated() where names[other.rawValue] == nil {
                fail("\(path).coexists_with[\(index)]", nil, "unknown model '\(other)'" + Suggestion.hint(for: other.rawValue, in: modelIDs))
            }
            if let device = model.device, config.device(device) == nil {
                fail("\(path).device", nil, "unknown device '\(device)'" + Suggestion.hint(for: device.rawValue, in: deviceIDs))
            }
            if model.reserve > 0 && model.qos != .burstable {
                fail("\(path).reserve", nil, "only burstable models take a reserve (guaranteed ones reserve all their memory)")
            }
            if let bytes = model.declaredMemory, model.reserve > bytes {
                fail("\(path).reserve", nil, "\(ByteSize.format(model.reserve)) is more than the model's memory \(ByteSize.format(bytes))")
            }
            let reserves = model.qos == .guaranteed || model.reserve > 0
            if reserves && model.device == nil && config.devices.count > 1 {
                fail("\(path).device", nil, "a model that reserves memory (qos: guaranteed or reserve) must name its device when there are several")
            }
            if let group = model.exclusiveGroup {
                for other in model.coexistsWith where config.model(other)?.exclusiveGroup == group {
                    fail("\(path).coexists_with", nil, "'\(other)' is in the same exclusive group '\(group)', so they can never be resident together")
                }
            }
            for alias in model.aliases {
                if let owner = names[alias], owner != model.id {
                    fail("\(path).aliases", nil, "'\(alias)' is already the name or alias of model '\(owner)'")
                }
                names[alias] = model.id
            }
            if let bytes = model.declaredMemory, bytes <= 0 {
                fail("\(path).memory", nil, "must be more than 0")
            }
        }
    }
}
