import Testing
import VRAMPolicy
@testable import VRAMConfig

@Suite struct ConfigTests {
    static let contract = """
        listen: 127.0.0.1:8770
        policy:
          upward_eviction: last_resort
          min_residency: 5s
        devices:
          - id: gpu0
            kind: simulated
            capacity: 16GiB
            cushion: 256MiB
        models:
          whisper:
            kind: stt
            memory: 4GiB
            priority: 2
            keep_alive: 10m
            pinned: false
            qos: burstable
            reserve: 0GiB
            coexists_with: [piper]
            exclusive_group: null
            max_concurrency: 1
            device: gpu0
          piper:
            kind: tts
            memory: 1.5GiB
        """

    @Test func readsTheContractShape() throws {
        let config = try Config.parse(yaml: Self.contract, file: "vramd.yaml")
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 8770))
        #expect(config.policy == PolicyOptions(upwardEviction: .lastResort, minResidency: .seconds(5)))
        #expect(config.devices == [DeviceConfig(id: "gpu0", kind: .simulated, capacity: 16 << 30, cushion: 256 << 20, index: nil)])
        let whisper = try #require(config.model("whisper"))
        #expect(whisper.kind == .stt && whisper.memory == .declared(4 << 30) && whisper.priority == 2)
        #expect(whisper.keepAlive == .duration(.seconds(600)))
        #expect(whisper.coexistsWith == ["piper"] && whisper.exclusiveGroup == nil && whisper.device == "gpu0")
        let piper = try #require(config.model("piper"))
        #expect(piper.memory == .declared(1_610_612_736))
        #expect(piper.priority == 1, "tts defaults to tier 1")
        #expect(piper.keepAlive == .duration(.seconds(300)))
        #expect(config.models.map(\.id) == ["whisper", "piper"], "file order is kept")
    }

    @Test(arguments: [
        (ModelKind.llm, 0), (.image, 0), (.embed, 1), (.rerank, 1), (.tts, 1), (.stt, 2), (.other, 0),
    ])
    func defaultPriorityByKind(kind: ModelKind, priority: Int) throws {
        let config = try Config.parse(yaml: "models:\n  m:\n    kind: \(kind.rawValue)\n    memory: 1GiB\n", file: "c.yaml")
        #expect(config.model("m")?.priority == priority)
    }

    @Test func noDevicesMeansTheHost() throws {
        let config = try Config.parse(yaml: "models:\n  m:\n    memory: 1GiB\n", file: "c.yaml")
        #expect(config.devices.map(\.kind) == [.host])
        #expect(config.devices.first?.cushion == 256 << 20)
    }

    @Test func pinnedModelsKeepForeverByDefault() throws {
        let config = try Config.parse(yaml: "models:\n  m:\n    memory: 1GiB\n    pinned: true\n", file: "c.yaml")
        #expect(config.model("m")?.keepAlive == .forever)
    }

    @Test func ggufMemoryForm() throws {
        let yaml = """
            devices: [{id: gpu0, kind: nvidia}]
            models:
              gemma:
                memory: {gguf: models/gemma.gguf, context: fit, parallel: 2, kv_type: q8_0, budget: 6GiB}
              other:
                memory: {gguf: other.gguf}
            """
        let config = try Config.parse(yaml: yaml, file: "c.yaml")
        #expect(config.model("gemma")?.memory == .gguf(GGUFMemorySpec(
            path: "models/gemma.gguf", context: .fit, parallel: 2, kvType: "q8_0", flashAttention: false,
            gpuLayers: nil, budget: 6 << 30)))
        #expect(config.model("other")?.memory == .gguf(GGUFMemorySpec(
            path: "other.gguf", context: .tokens(4096), parallel: 1, kvType: "f16", flashAttention: false,
            gpuLayers: nil, budget: nil)))
        #expect(config.devices.first?.index == 0)
    }

    /// Each broken config yields an error naming the file, the key path and what is wrong.
    @Test(arguments: [
        ("models:\n  whisper:\n    memory: 4Gb of ram\n", "models.whisper.memory", "expected a size"),
        ("models:\n  whisper:\n    memroy: 4GiB\n", "models.whisper.memroy", "did you mean 'memory'?"),
        ("models:\n  whisper:\n    kind: sst\n    memory: 1GiB\n", "models.whisper.kind", "did you mean 'stt'?"),
        ("models:\n  whisper:\n    memory: 1GiB\n    priority: 7\n", "models.whisper.priority", "out of range 0...4"),
        ("models:\n  whisper:\n    memory: 1GiB\n    keep_alive: soon\n", "models.whisper.keep_alive", "expected a duration"),
        ("models:\n  whisper:\n    memory: 1GiB\n    coexists_with: [pipr]\n  piper:\n    memory: 1GiB\n",
         "models.whisper.coexists_with[0]", "did you mean 'piper'?"),
        ("models:\n  whisper:\n    memory: 1GiB\n    device: gpu1\n", "models.whisper.device", "unknown device 'gpu1'"),
        ("models:\n  whisper:\n    kind: stt\n", "models.whisper.memory", "missing"),
        ("polcy: {}\n", "polcy", "did you mean 'policy'?"),
        ("policy:\n  upward_eviction: sometimes\n", "policy.upward_eviction", "is not one of last_resort, never"),
        ("devices:\n  - id: gpu0\n    kind: simulated\n", "devices[0].capacity", "needs a capacity"),
        ("devices:\n  - id: gpu0\n    kind: cuda\n    capacity: 1GiB\n", "devices[0].kind", "is not one of"),
        ("listen: localhost\n", "listen", "expected host:port"),
        ("models:\n  m:\n    memory: 1GiB\n    qos: guaranteed\n    reserve: 1GiB\n", "models.m.reserve", "only burstable"),
        ("models:\n  m:\n    memory: 1GiB\n    reserve: 2GiB\n", "models.m.reserve", "more than the model's memory"),
        ("devices:\n  - {id: a, kind: host}\n  - {id: b, kind: host}\nmodels:\n  m:\n    memory: 1GiB\n    qos: guaranteed\n",
         "models.m.device", "must name its device"),
        ("models:\n  a:\n    memory: 1GiB\n    exclusive_group: g\n    coexists_with: [b]\n  b:\n    memory: 1GiB\n    exclusive_group: g\n",
         "models.a.coexists_with", "same exclusive group"),
        ("models:\n  a:\n    memory: 1GiB\n    aliases: [b]\n  b:\n    memory: 1GiB\n", "models.a.aliases", "already the name"),
        ("models:\n  a:\n    memory: {context: 4096}\n", "models.a.memory.gguf", "missing"),
        ("models:\n  a:\n    memory: {gguf: a.gguf, kv_type: q9}\n", "models.a.memory.kv_type", "is not one of"),
        ("models: [a, b]\n", "models", "expected a mapping"),
        ("models:\n  \"a,b\":\n    memory: 1GiB\n", "models.a,b", "cannot contain a comma"),
        ("models:\n  a:\n    memory: 1GiB\n    aliases: [\"x,y\"]\n", "models.a.aliases", "cannot contain a comma"),
        ("idle_timeout: 0s\n", "idle_timeout", "longer than 0s"),
        ("models:\n  m:\n    memory: 1GiB\n    prompt_cache: true\n", "models.m.prompt_cache", "needs a process backend"),
    ])
    func brokenConfigsNameFileKeyAndProblem(yaml: String, path: String, message: String) throws {
        let errors = try #require(throws: ConfigErrors.self) { try Config.parse(yaml: yaml, file: "/etc/vramd.yaml") }
        let match = errors.errors.first { $0.path == path }
        #expect(match != nil, "no error at \(path); got: \(errors)")
        #expect(match?.message.contains(message) == true, "\(String(describing: match))")
        #expect(match?.file == "/etc/vramd.yaml")
        #expect(errors.description.contains("/etc/vramd.yaml"))
    }

    @Test func errorsCarryLineNumbersAndAllAreReported() throws {
        let yaml = "models:\n  a:\n    memory: lots\n  b:\n    memory: 1GiB\n    priority: 9\n"
        let errors = try #require(throws: ConfigErrors.self) { try Config.parse(yaml: yaml, file: "c.yaml") }
        #expect(errors.errors.map(\.path) == ["models.a.memory", "models.b.priority"])
        #expect(errors.errors.first?.line == 3)
        #expect(errors.description.hasPrefix("c.yaml:3:"))
    }

    @Test func invalidYAMLAndMissingFilesAreErrors() throws {
        let bad = try #require(throws: ConfigErrors.self) { try Config.parse(yaml: "models: [a\n", file: "c.yaml") }
        #expect(bad.description.contains("not valid YAML"))
        let missing = try #require(throws: ConfigErrors.self) { try Config.load(path: "/nonexistent/vramd.yaml") }
        #expect(missing.description.contains("/nonexistent/vramd.yaml: cannot read the file"))
    }
}

@Suite struct UnitsTests {
    @Test(arguments: [
        ("4GiB", Int64(4) << 30), ("1.5GiB", 1_610_612_736), ("512MiB", 512 << 20), ("1KiB", 1024),
        ("1GB", 1_000_000_000), ("2.5MB", 2_500_000), ("3KB", 3000), ("100B", 100), ("0", 0), ("0GiB", 0),
        ("4 GiB", Int64(4) << 30), ("16gib", Int64(16) << 30), ("1TiB", Int64(1) << 40), ("12345", 12345),
    ])
    func parsesSizes(text: String, bytes: Int64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "GiB", "-1GiB", "4XB", "1.2.3GB", "four", "1e3GB", "99999999TiB"])
    func rejectsBadSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("5s", .seconds(5)), ("10m", .seconds(600)), ("1h", .seconds(3600)),
        ("1h30m", .seconds(5400)), ("0", .zero), ("0s", .zero), ("1.5s", .milliseconds(1500)),
        ("876000h", DurationText.longest),
    ])
    func parsesDurations(text: String, duration: Duration) {
        #expect(DurationText.parse(text) == duration)
    }

    // The last three are longer than a hundred years; the first of them crashed the parser.
    @Test(arguments: ["", "5", "ten minutes", "5d", "m", "-5s", "777777777777777777777777777777730m", "876001h", "876000h1s"])
    func rejectsBadDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func formatsForPeople() {
        #expect(ByteSize.format(4 << 30) == "4 GiB")
        #expect(ByteSize.format(1_610_612_736) == "1.5 GiB")
        #expect(ByteSize.format(512) == "512 B")
        #expect(DurationText.format(.seconds(5400)) == "1h30m")
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
    }
}

@Suite struct BrokerConfigTests {
    static let full = """
        listen: 127.0.0.1:9000
        queue: {max: 32, timeout: 15s}
        auth: {token: "0123456789abcdef0123"}
        routing: {llm: gemma, tts: piper}
        max_body: 16MiB
        state_dir: state
        loading_feedback: true
        hooks: {on_pressure: "http://127.0.0.1:9999/pressure"}
        audio_proxy: {path: /audio, model: piper}
        policy:
          swap_quantum: {requests: 2, time: 500ms}
        devices:
          - {id: cpu, kind: host, serialize: true}
        models:
          gemma:
            kind: llm
            memory: 600MiB
            aliases: [gpt-4o-mini]
            preload: true
            paths: {llm: /v1/chat/completions}
            backend:
              type: process
              command: [llama-server, -m, gemma.gguf, --port, "${PORT}"]
              env: {LLAMA_ARG_THREADS: "2"}
              stop_timeout: 3s
              mps: {threads: 50, memory: 8GiB}
          piper:
            kind: tts
            memory: 200MiB
            backend:
              type: http
              url: http://127.0.0.1:5002/
              load: {path: /admin/load, body: {model: "${MODEL_ID}"}}
              unload: {method: POST, path: /admin/unload}
              health: {path: /health}
          llama3:
            memory: 4GiB
            backend: {type: ollama, model: "llama3.2:3b"}
          remote:
            memory: 1GiB
            backend: {type: external, url: "http://127.0.0.1:7000"}
        """

    @Test func readsBrokerSettingsAndBackends() throws {
        let config = try Config.parse(yaml: Self.full, file: "/etc/vramd/vramd.yaml")
        #expect(config.broker.queueMax == 32 && config.broker.queueTimeout == .seconds(15))
        #expect(config.broker.auth == .token("0123456789abcdef0123"))
        #expect(config.broker.routing == [.llm: "gemma", .tts: "piper"])
        #expect(config.broker.maxBody == 16 << 20)
        #expect(config.broker.stateDirectory == "/etc/vramd/state")
        #expect(config.broker.swapQuantumRequests == 2 && config.broker.swapQuantumTime == .milliseconds(500))
        #expect(config.broker.audioProxy == BrokerSettings.AudioProxy(path: "/audio", model: "piper"))
        #expect(config.devices.first?.serialize == true)
        let gemma = try #require(config.model(named: "gpt-4o-mini"))
        #expect(gemma.id == "gemma" && gemma.preload && gemma.paths == ["llm": "/v1/chat/completions"])
        guard case .process(let process) = gemma.backend else {
            Issue.record("expected a process backend")
            return
        }
        #expect(process.command == ["llama-server", "-m", "gemma.gguf", "--port", "${PORT}"])
        #expect(process.environment == ["LLAMA_ARG_THREADS": "2"])
        #expect(process.stopTimeout == .seconds(3) && process.readyPath == "/health")
        #expect(process.mps?.threads == 50 && process.mps?.memory == 8 << 30)
        guard case .http(let http) = config.model("piper")?.backend else {
            Issue.record("expected an http backend")
            return
        }
        #expect(http.url == "http://127.0.0.1:5002")
        #expect(http.load?.method == "POST" && http.load?.body == #"{"model":"${MODEL_ID}"}"#)
        #expect(http.unload?.path == "/admin/unload")
        guard case .ollama(let ollama) = config.model("llama3")?.backend else {
            Issue.record("expected an ollama backend")
            return
        }
        #expect(ollama.ollamaModel == "llama3.2:3b" && ollama.url == "http://127.0.0.1:11434")
        #expect(config.model("remote")?.backend?.typeName == "external")
        #expect(config.resolvePath("gemma.gguf") == "/etc/vramd/gemma.gguf")
    }

    @Test(arguments: [
        ("listen: 0.0.0.0:8770\n", "auth", "without a token"),
        ("auth: {token: short}\n", "auth.token", "too short"),
        ("auth: {token_file: /nonexistent/token}\n", "auth.token_file", "cannot read"),
        ("routing: {llm: gema}\nmodels:\n  gemma: {memory: 1GiB}\n", "routing.llm", "did you mean 'gemma'?"),
        ("routing: {chat: gemma}\n", "routing.chat", "unknown key"),
        ("models:\n  m:\n    memory: 1GiB\n    backend: {command: [x]}\n", "models.m.backend.type", "missing"),
        ("models:\n  m:\n    memory: 1GiB\n    backend: {type: proces}\n", "models.m.backend.type", "did you mean 'process'?"),
        ("models:\n  m:\n    memory: 1GiB\n    backend: {type: process, command: \"llama-server -m x\"}\n", "models.m.backend.command", "must be a list"),
        ("models:\n  m:\n    memory: 1GiB\n    backend: {type: process, command: [x], url: http://a}\n", "models.m.backend.url", "unknown key"),
        ("models:\n  m:\n    memory: 1GiB\n    backend: {type: http, url: localhost:5000}\n", "models.m.backend.url", "http://"),
        ("models:\n  m:\n    memory: 1GiB\n    backend: {type: http, url: http://a:1, load: {method: GET}}\n", "models.m.backend.load.path", "missing"),
        ("models:\n  m:\n    memory: 1GiB\n    preload: true\n", "models.m.preload", "without a backend"),
        ("models:\n  m:\n    memory: 1GiB\n    paths: {llm: v1/chat}\n", "models.m.paths.llm", "must start with /"),
        ("audio_proxy: {path: /audio, model: nobody}\n", "audio_proxy.model", "unknown model"),
    ])
    func brokerErrors(yaml: String, path: String, message: String) throws {
        let errors = try #require(throws: ConfigErrors.self) { try Config.parse(yaml: yaml, file: "c.yaml") }
        let match = errors.errors.first { $0.path == path }
        #expect(match?.message.contains(message) == true, "\(errors)")
    }

    @Test func authNoneAllowsAPublicAddress() throws {
        let config = try Config.parse(yaml: "listen: 0.0.0.0:8770\nauth: none\n", file: "c.yaml")
        #expect(config.broker.auth == .none && !config.listen.isLoopback)
    }
}
