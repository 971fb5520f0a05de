import Foundation
import VRAMPolicy
import Yams

extension ConfigReader {
    /// The top-level keys of `vramd serve`: queue, auth, routing and the rest.
    mutating func brokerSetting(_ key: String, _ value: Node, into broker: inout BrokerSettings, baseDirectory: String) {
        switch key {
        case "queue":
            for (entry, node) in mapping(value, at: key, allowed: ["max", "timeout"]) ?? [] {
                if entry == "max" { broker.queueMax = int(node, at: "queue.max", range: 1...1_000_000) ?? broker.queueMax }
                if entry == "timeout" { broker.queueTimeout = duration(node, at: "queue.timeout") ?? broker.queueTimeout }
            }
        case "auth":
            if case .scalar(let scalar) = value, scalar.string == "none" {
                broker.auth = .none
                return
            }
            for (entry, node) in mapping(value, at: key, allowed: ["token", "token_file"]) ?? [] {
                if entry == "token", let token = string(node, at: "auth.token") {
                    if token.count < 16 { fail("auth.token", node, "is too short; use at least 16 characters") }
                    broker.auth = .token(token)
                }
                if entry == "token_file", let file = string(node, at: "auth.token_file") {
                    let path = file.hasPrefix("/") ? file : baseDirectory + "/" + file
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        fail("auth.token_file", node, "cannot read \(path)")
                        continue
                    }
                    let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    if token.count < 16 { fail("auth.token_file", node, "the token in \(path) is too short; use at least 16 characters") }
                    broker.auth = .token(token)
                }
            }
        case "routing":
            for (kind, node) in mapping(value, at: key, allowed: ModelKind.allCases.map(\.rawValue)) ?? [] {
                if let model = string(node, at: "routing.\(kind)"), let modelKind = ModelKind(rawValue: kind) {
                    broker.routing[modelKind] = ModelID(model)
                }
            }
        case "max_body": broker.maxBody = size(value, at: key) ?? broker.maxBody
        case "state_dir": broker.stateDirectory = string(value, at: key).map { $0.hasPrefix("/") ? $0 : baseDirectory + "/" + $0 }
        case "log_dir": broker.logDirectory = string(value, at: key).map { $0.hasPrefix("/") ? $0 : baseDirectory + "/" + $0 }
        case "hooks":
            for (entry, node) in mapping(value, at: key, allowed: ["on_pressure"]) ?? [] where entry == "on_pressure" {
                broker.onPressureHook = url(node, at: "hooks.on_pressure")
            }
        case "audio_proxy":
            var path: String?, model: String?
            for (entry, node) in mapping(value, at: key, allowed: ["path", "model"]) ?? [] {
                if entry == "path" { path = string(node, at: "audio_proxy.path") }
                if entry == "model" { model = string(node, at: "audio_proxy.model") }
            }
            if let path, let model, path.hasPrefix("/") {
                broker.audioProxy = BrokerSettings.AudioProxy(path: path.hasSuffix("/") ? String(path.dropLast()) : path, model: ModelID(model))
            } else {
                fail(key, value, "needs path (starting with /) and model")
            }
        case "loading_feedback": broker.loadingFeedback = bool(value, at: key) ?? false
        case "shutdown_grace": broker.shutdownGrace = duration(value, at: key) ?? broker.shutdownGrace
        case "idle_timeout":
            guard let timeout = duration(value, at: key) else { return }
            if timeout > .zero { broker.idleTimeout = timeout } else { fail(key, value, "must be longer than 0s") }
        default: break
        }
    }

    /// Broker rules that span keys.
    mutating func validateBroker(_ config: Config) {
        let names = config.models.map(\.id.rawValue)
        if !config.listen.isLoopback, case .unset = config.broker.auth {
            fail("auth", nil, "vramd will not listen on \(config.listen) without a token; set auth: {token_file: …}, or write auth: none to allow it")
        }
        for (kind, model) in config.broker.routing.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where config.model(named: model.rawValue) == nil {
            fail("routing.\(kind.rawValue)", nil, "unknown model '\(model)'" + Suggestion.hint(for: model.rawValue, in: names))
        }
        if let proxy = config.broker.audioProxy, config.model(named: proxy.model.rawValue) == nil {
            fail("audio_proxy.model", nil, "unknown model '\(proxy.model)'" + Suggestion.hint(for: proxy.model.rawValue, in: names))
        }
        for model in config.models {
            for (kind, path) in model.paths.sorted(by: { $0.key < $1.key }) where !path.hasPrefix("/") {
                fail("models.\(model.id).paths.\(kind)", nil, "must start with /")
            }
            if model.preload && model.backend == nil {
                fail("models.\(model.id).preload", nil, "a model without a backend cannot be preloaded")
            }
        }
    }
}
