/// A `process` backend: vramd starts a server for the model and stops it to unload (the
/// llama-swap kind).
public struct ProcessBackendConfiguration: Sendable, Hashable {
    /// YAML `command`: the program and its arguments, run without a shell. `${PORT}` is replaced
    /// by a free port vramd picks and `${MODEL_ID}` by the model id. The server must listen on
    /// 127.0.0.1 at that port: readiness, health and routing go there.
    public var command: [String]
    /// YAML `env`: variables added to vramd's environment for the child; values are substituted
    /// like `command`. `CUDA_VISIBLE_DEVICES` is set from the placement unless given here.
    public var environment: [String: String]
    /// YAML `ready`: the path polled with GET until it answers 2xx (llama.cpp: `/health`).
    public var readyPath: String
    /// YAML `stop_timeout`: how long SIGTERM may take before the process group gets SIGKILL.
    public var stopTimeout: Duration
    /// YAML `load_timeout`: how long the server may take to become ready before the load fails.
    public var loadTimeout: Duration
    /// YAML `mps`: an NVIDIA MPS compute and memory partition for the child.
    public var mps: MPSPartition?
    /// YAML `unload_timeout`: how long to wait for the device to show the memory returned.
    public var memoryReturnTimeout: Duration

    public init(command: [String], environment: [String: String] = [:], readyPath: String = "/health",
                stopTimeout: Duration = .seconds(10), loadTimeout: Duration = .seconds(120), mps: MPSPartition? = nil,
                memoryReturnTimeout: Duration = .seconds(10)) {
        self.command = command
        self.environment = environment
        self.readyPath = readyPath
        self.stopTimeout = stopTimeout
        self.loadTimeout = loadTimeout
        self.mps = mps
        self.memoryReturnTimeout = memoryReturnTimeout
    }
}

/// An NVIDIA MPS partition (`mps: {threads: 50, memory: 8GiB}`): a share of the GPU's compute and
/// a cap on the device memory the child may pin.
public struct MPSPartition: Sendable, Hashable {
    /// YAML `threads`: percentage of the GPU's SMs, 1–100 → `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`.
    public var threads: Int?
    /// YAML `memory`: bytes of device memory → `CUDA_MPS_PINNED_DEVICE_MEM_LIMIT`.
    public var memory: UInt64?

    public init(threads: Int? = nil, memory: UInt64? = nil) {
        self.threads = threads
        self.memory = memory
    }

    /// The variables that set the partition for a child that sees one GPU (device 0 to it).
    public var environment: [String: String] {
        var variables: [String: String] = [:]
        if let threads { variables["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = "\(threads)" }
        if let memory {
            // MPS reads a size with an M or G suffix per device ordinal; whole MiB, rounded up so
            // a limit never comes out below what was configured.
            variables["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = "0=\((memory + (1 << 20) - 1) >> 20)M"
        }
        return variables
    }
}
