import Backends
import Foundation
import VRAMPolicy
import Yams

/// How a model gets in and out of memory (`models.NAME.backend`).
public enum BackendSpec: Sendable, Hashable {
    /// `type: process`: vramd starts a server per model (the llama-swap kind).
    case process(ProcessBackendConfiguration)
    /// `type: http`: a server that stays up and loads and unloads on request.
    case http(HTTPBackendConfiguration)
    /// `type: ollama`: an Ollama server that manages its own memory.
    case ollama(OllamaBackendConfiguration)
    /// `type: external`: only routed to; its memory is foreign.
    case external(ExternalBackendConfiguration)

    public var typeName: String {
        switch self {
        case .process: "process"
        case .http: "http"
        case .ollama: "ollama"
        case .external: "external"
        }
    }
}

extension Config {
    static let backendKeys: [String: [String]] = [
        "process": ["type", "command", "env", "ready", "stop_timeout", "load_timeout", "unload_timeout", "mps"],
        "http": ["type", "url", "load", "unload", "health", "load_timeout", "unload_timeout"],
        "ollama": ["type", "url", "model", "keep_alive", "load_timeout", "unload_timeout"],
        "external": ["type", "url", "health"],
    ]
    static let callKeys = ["method", "path", "body"]
}

extension ConfigReader {
    mutating func backend(_ node: Node, at path: String, configDirectory: String) -> BackendSpec? {
        let typeNode = node["type"]
        guard let typeNode else {
            fail("\(path).type", node, "missing; one of process, http, ollama, external")
            return nil
        }
        guard let type = choice(typeNode, at: "\(path).type", ["process", "http", "ollama", "external"].map { ($0, $0) }),
              let entries = mapping(node, at: path, allowed: Config.backendKeys[type] ?? []) else { return nil }
        var values: [String: Node] = [:]
        for (key, value) in entries { values[key] = value }
        func timeout(_ key: String, _ fallback: Duration) -> Duration {
            values[key].flatMap { duration($0, at: "\(path).\(key)") } ?? fallback
        }
        switch type {
        case "process":
            guard let commandNode = values["command"] else {
                fail("\(path).command", node, "missing; the server's argv as a list, e.g. [llama-server, -m, model.gguf, --port, \"${PORT}\"]")
                return nil
            }
            guard case .sequence = commandNode else {
                fail("\(path).command", commandNode, "must be a list (argv; no shell is used)")
                return nil
            }
            // ${CONFIG_DIR} lets a config name programs and files beside it wherever it is run from.
            let command = (stringList(commandNode, at: "\(path).command") ?? []).map { $0.replacingOccurrences(of: "${CONFIG_DIR}", with: configDirectory) }
            if command.isEmpty { fail("\(path).command", commandNode, "must name a program") }
            var environment: [String: String] = [:]
            if let envNode = values["env"] {
                for (key, value) in mapping(envNode, at: "\(path).env", allowed: []) ?? [] {
                    if let text = string(value, at: "\(path).env.\(key)") {
                        environment[key] = text.replacingOccurrences(of: "${CONFIG_DIR}", with: configDirectory)
                    }
                }
            }
            var mps: MPSPartition?
            if let mpsNode = values["mps"] {
                var partition = MPSPartition()
                for (key, value) in mapping(mpsNode, at: "\(path).mps", allowed: ["threads", "memory"]) ?? [] {
                    if key == "threads" { partition.threads = int(value, at: "\(path).mps.threads", range: 1...100) }
                    if key == "memory" { partition.memory = size(value, at: "\(path).mps.memory").map { UInt64($0) } }
                }
                mps = partition
            }
            let ready = values["ready"].flatMap { string($0, at: "\(path).ready") } ?? "/health"
            if !ready.hasPrefix("/") { fail("\(path).ready", values["ready"], "must be a path starting with /") }
            return .process(ProcessBackendConfiguration(
                command: command, environment: environment, readyPath: ready,
                stopTimeout: timeout("stop_timeout", .seconds(10)), loadTimeout: timeout("load_timeout", .seconds(120)),
                mps: mps, memoryReturnTimeout: timeout("unload_timeout", .seconds(10))))
        case "http":
            guard let url = values["url"].flatMap({ self.url($0, at: "\(path).url") }) else {
                if values["url"] == nil { fail("\(path).url", node, "missing; the server's base URL") }
                return nil
            }
            return .http(HTTPBackendConfiguration(
                url: url, load: values["load"].flatMap { call($0, at: "\(path).load") },
                unload: values["unload"].flatMap { call($0, at: "\(path).unload") },
                health: values["health"].flatMap { call($0, at: "\(path).health") } ?? HTTPCall(path: "/health"),
                loadTimeout: timeout("load_timeout", .seconds(120)), memoryReturnTimeout: timeout("unload_timeout", .seconds(10))))
        case "ollama":
            let url = values["url"].flatMap { self.url($0, at: "\(path).url") } ?? "http://127.0.0.1:11434"
            return .ollama(OllamaBackendConfiguration(
                url: url, ollamaModel: values["model"].flatMap { string($0, at: "\(path).model") },
                keepAlive: values["keep_alive"].flatMap { string($0, at: "\(path).keep_alive") } ?? "-1",
                loadTimeout: timeout("load_timeout", .seconds(300)), memoryReturnTimeout: timeout("unload_timeout", .seconds(10))))
        default:
            guard let url = values["url"].flatMap({ self.url($0, at: "\(path).url") }) else {
                if values["url"] == nil { fail("\(path).url", node, "missing; the server's base URL") }
                return nil
            }
            return .external(ExternalBackendConfiguration(
                url: url, health: values["health"].flatMap { call($0, at: "\(path).health") } ?? HTTPCall(path: "/health")))
        }
    }

    mutating func url(_ node: Node, at path: String) -> String? {
        guard let text = string(node, at: path) else { return nil }
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), text.count > 8 else {
            fail(path, node, "expected an http:// or https:// URL, found '\(text)'")
            return nil
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    mutating func call(_ node: Node, at path: String) -> HTTPCall? {
        guard let entries = mapping(node, at: path, allowed: Config.callKeys) else { return nil }
        var call = HTTPCall(path: "")
        var sawPath = false
        for (key, value) in entries {
            switch key {
            case "method":
                call.method = choice(value, at: "\(path).method", ["GET", "POST", "PUT", "DELETE", "PATCH"].map { ($0, $0) }) ?? call.method
            case "path":
                if let text = string(value, at: "\(path).path") {
                    if !text.hasPrefix("/") { fail("\(path).path", value, "must start with /") }
                    call.path = text
                    sawPath = true
                }
            case "body":
                if case .scalar = value {
                    call.body = string(value, at: "\(path).body")
                } else {
                    // A mapping body is sent as JSON, written the way it reads in the YAML.
                    call.body = Self.json(value)
                    if call.body == nil { fail("\(path).body", value, "cannot be written as JSON") }
                }
            default: break
            }
        }
        if !sawPath {
            fail("\(path).path", node, "missing")
            return nil
        }
        if call.method == "GET" && entries.contains(where: { $0.key == "body" }) { call.method = "POST" }
        return call
    }

    /// A YAML mapping or list as compact JSON text.
    static func json(_ node: Node) -> String? {
        guard let yaml = try? Yams.serialize(node: node), let object = try? Yams.load(yaml: yaml),
              JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
