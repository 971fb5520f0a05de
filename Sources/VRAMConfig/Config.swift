import Foundation
import VRAMPolicy

/// The whole vramd config, as read from YAML. The key names are a contract other tools read:
/// keys may be added, never renamed.
public struct Config: Sendable {
    /// Where the file came from, for messages.
    public var file: String
    /// `listen`: host and port of the HTTP facade.
    public var listen: ListenAddress
    public var policy: PolicyOptions
    /// `devices`; a config that names none gets one `host` device.
    public var devices: [DeviceConfig]
    /// `models`, in file order.
    public var models: [ModelConfig]
    /// The broker's own settings (queue, auth, routing, limits).
    public var broker = BrokerSettings()

    /// The folder relative paths in the config are resolved against: the config file's own.
    public var baseDirectory: String { Self.baseDirectory(of: file) }

    static func baseDirectory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    /// `path` as written in the config, made absolute against ``baseDirectory``.
    public func resolvePath(_ path: String) -> String { Self.resolvePath(path, inConfigFile: file) }

    /// `path` as written in the config file `file`, made absolute against its folder.
    public static func resolvePath(_ path: String, inConfigFile file: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] { return home + path.dropFirst(1) }
        return baseDirectory(of: file) + "/" + path
    }

    /// The model a name or alias refers to.
    public func model(named name: String) -> ModelConfig? {
        modelIndex(named: name).map { models[$0] }
    }

    /// A model's own name first, then its aliases.
    private func modelIndex(named name: String) -> Int? {
        models.firstIndex { $0.id.rawValue == name } ?? models.firstIndex { $0.aliases.contains(name) }
    }

    public func model(_ id: ModelID) -> ModelConfig? { models.first { $0.id == id } }
    public func device(_ id: DeviceID) -> DeviceConfig? { devices.first { $0.id == id } }
}

public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can reach it.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

public struct DeviceConfig: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Capacity from the config, usage from the ledger: tests and demos.
        case simulated
        /// System memory (CPU inference, unified memory).
        case host
        /// An NVIDIA GPU, read through NVML or nvidia-smi.
        case nvidia
    }

    public var id: DeviceID
    public var kind: Kind
    /// `capacity`: required for simulated devices; on real ones a cap below the physical size.
    public var capacity: Int64?
    /// `cushion`: never planned into (default 0 on simulated devices, 256 MiB on real ones).
    public var cushion: Int64
    /// `index`: which GPU an nvidia device is (default: its position among the nvidia devices).
    public var index: Int?
    /// `serialize`: one request at a time runs on this device (seed 003's global GPU lock).
    public var serialize = false
}

/// Settings of `vramd serve` beyond the policy.
public struct BrokerSettings: Sendable, Hashable {
    public enum Auth: Sendable, Hashable {
        /// No `auth` key: only allowed on a loopback address.
        case unset
        /// `auth: none`, written explicitly.
        case none
        /// `auth: {token: …}` or `{token_file: …}`.
        case token(String)
    }

    /// `queue.max`: requests waiting at once before 429.
    public var queueMax = 256
    /// `queue.timeout`: how long a request may wait for its model.
    public var queueTimeout: Duration = .seconds(60)
    public var auth = Auth.unset
    /// `routing`: the default model per kind for `/v1/llm`, `/v1/tts`, `/v1/stt`, `/v1/image`.
    public var routing: [ModelKind: ModelID] = [:]
    /// `max_body`: the largest request body accepted (uploads included).
    public var maxBody: Int64 = 64 << 20
    /// `state_dir`: where measured footprints are remembered (default `$XDG_STATE_HOME/vramd`).
    public var stateDirectory: String?
    /// `log_dir`: where process backends' output is kept (default: the state directory's `logs`).
    public var logDirectory: String?
    /// `hooks.on_pressure`: a URL that gets a JSON POST whenever a load has to evict, or has to
    /// wait (once per wait, and again only when what it waits for changes).
    public var onPressureHook: String?
    /// `audio_proxy`: `GET {path}/*` is passed to `model`'s backend.
    public var audioProxy: AudioProxy?
    /// `loading_feedback`: streamed requests waiting for a load get SSE comments meanwhile.
    public var loadingFeedback = false
    /// `idle_timeout`: a client connection that sends nothing this long, between requests or in
    /// the middle of a request's head, is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// `shutdown_grace`: how long in-flight requests may finish after SIGTERM.
    public var shutdownGrace: Duration = .seconds(30)
    /// `policy.swap_quantum`: queued requests for a resident model served before it is swapped
    /// out for one of the same or lower priority (0 requests turns it off).
    public var swapQuantumRequests = 4
    public var swapQuantumTime: Duration = .seconds(2)
    /// `policy.prompt_cache_disk`: the most the saved prompt caches of all models may take on
    /// disk, least recently used out first.
    public var promptCacheDisk: Int64 = 4 << 30
    /// `policy.prompt_cache_timeout`: the longest saving the prompt caches may hold up an unload.
    public var promptCacheTimeout: Duration = .seconds(2)
    /// `policy.prewarm`: what is done for the model likely to be asked for next.
    public var prewarm = Prewarm.files

    public enum Prewarm: String, Sendable, Hashable, CaseIterable {
        /// Its weight file is read into the page cache (and so is a waiting load's).
        case files
        /// It is loaded when it fits without evicting anything; files are warmed too.
        case load
        /// Neither.
        case off
    }

    public struct AudioProxy: Sendable, Hashable {
        public var path: String
        public var model: ModelID
    }

    public init() {}
}

/// How a model's footprint is known.
public enum MemorySpec: Sendable, Hashable {
    /// `memory: 4GiB`
    case declared(Int64)
    /// `memory: {gguf: model.gguf, context: 8192, ...}`: estimated from the file.
    case gguf(GGUFMemorySpec)
}

/// The GGUF form of `memory:`.
public struct GGUFMemorySpec: Sendable, Hashable {
    public enum Context: Sendable, Hashable {
        case tokens(Int)
        /// The largest context that fits the budget.
        case fit
    }

    /// `gguf`: path to the model file, relative to the config file's folder.
    public var path: String
    /// `context` (default 4096).
    public var context: Context
    /// `parallel` sequences (default 1).
    public var parallel: Int
    /// `kv_type`: K and V cache type (default f16).
    public var kvType: String
    /// `flash_attention` (default false).
    public var flashAttention: Bool
    /// `gpu_layers` (default all).
    public var gpuLayers: Int?
    /// `budget` for `context: fit` (default: the device's capacity less its cushion).
    public var budget: Int64?
    /// `swa_full`: a full-size cache on sliding-window layers too (set with `prompt_cache`).
    public var swaFull = false
}

public struct ModelConfig: Sendable, Hashable {
    public var id: ModelID
    public var kind: ModelKind
    public var memory: MemorySpec
    public var priority: Int
    public var keepAlive: KeepAlive
    public var pinned: Bool
    public var qos: QoS
    public var reserve: Int64
    public var coexistsWith: [ModelID]
    public var exclusiveGroup: String?
    public var maxConcurrency: Int
    public var device: DeviceID?
    /// `aliases`: other names requests may use for this model.
    public var aliases: [String]
    /// `backend`: how it is loaded and unloaded; `nil` in configs used only for planning.
    public var backend: BackendSpec?
    /// `paths`: the backend path for each facade kind (`llm: /v1/chat/completions`).
    public var paths: [String: String] = [:]
    /// `preload`: loaded when vramd starts.
    public var preload = false
    /// `prompt_cache`: llama-server's slots are saved before the model is unloaded and restored
    /// after it is loaded again, so a conversation's prompt is not read again after a swap.
    public var promptCache = false

    /// The policy's view of this model, given its footprint in bytes.
    public func spec(memory bytes: Int64) -> ModelSpec {
        ModelSpec(id: id, kind: kind, memory: bytes, priority: priority, keepAlive: keepAlive, pinned: pinned,
                  qos: qos, reserve: reserve, coexistsWith: Set(coexistsWith), exclusiveGroup: exclusiveGroup,
                  maxConcurrency: maxConcurrency, device: device)
    }

    /// The declared footprint, when the config gives one.
    public var declaredMemory: Int64? {
        if case .declared(let bytes) = memory { return bytes }
        return nil
    }
}
