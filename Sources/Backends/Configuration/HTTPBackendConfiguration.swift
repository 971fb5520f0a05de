/// An `http` backend: a server that stays up and loads and unloads models on request (the
/// mGPUmanager kind).
public struct HTTPBackendConfiguration: Sendable, Hashable {
    /// YAML `url`: the server's base URL, e.g. `http://127.0.0.1:9000`.
    public var url: String
    /// YAML `load`: the request that loads the model; `nil` when the server loads on first use.
    public var load: HTTPCall?
    /// YAML `unload`: the request that frees the model's memory.
    public var unload: HTTPCall?
    /// YAML `health`: the request that must answer 2xx when the model serves.
    public var health: HTTPCall
    /// YAML `load_timeout`: how long the load request and the first healthy answer may take.
    public var loadTimeout: Duration
    /// YAML `unload_timeout`: how long to wait for the device to show the memory returned.
    public var memoryReturnTimeout: Duration

    public init(url: String, load: HTTPCall? = nil, unload: HTTPCall? = nil, health: HTTPCall = HTTPCall(path: "/health"),
                loadTimeout: Duration = .seconds(120), memoryReturnTimeout: Duration = .seconds(10)) {
        self.url = url
        self.load = load
        self.unload = unload
        self.health = health
        self.loadTimeout = loadTimeout
        self.memoryReturnTimeout = memoryReturnTimeout
    }
}

/// An `ollama` backend: an Ollama server that manages its own memory.
public struct OllamaBackendConfiguration: Sendable, Hashable {
    /// YAML `url`: the Ollama server, `http://127.0.0.1:11434` by default.
    public var url: String
    /// YAML `model`: Ollama's name for the model (`llama3.2:3b`); the vramd model id if absent.
    public var ollamaModel: String?
    /// YAML `keep_alive`: what the load request asks Ollama to keep the model for; `-1` keeps it
    /// until vramd unloads it (with `keep_alive: 0`).
    public var keepAlive: String
    /// YAML `load_timeout`.
    public var loadTimeout: Duration
    /// YAML `unload_timeout`: how long to wait for `/api/ps` to stop listing the model.
    public var memoryReturnTimeout: Duration

    public init(url: String = "http://127.0.0.1:11434", ollamaModel: String? = nil, keepAlive: String = "-1",
                loadTimeout: Duration = .seconds(300), memoryReturnTimeout: Duration = .seconds(10)) {
        self.url = url
        self.ollamaModel = ollamaModel
        self.keepAlive = keepAlive
        self.loadTimeout = loadTimeout
        self.memoryReturnTimeout = memoryReturnTimeout
    }
}

/// An `external` backend: a server vramd only routes to, never loads or evicts.
public struct ExternalBackendConfiguration: Sendable, Hashable {
    /// YAML `url`.
    public var url: String
    /// YAML `health`.
    public var health: HTTPCall

    public init(url: String, health: HTTPCall = HTTPCall(path: "/health")) {
        self.url = url
        self.health = health
    }
}
