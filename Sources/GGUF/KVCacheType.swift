/// An element type for the KV cache, as llama.cpp's `--cache-type-k` / `--cache-type-v` take.
public struct KVCacheType: Sendable, Hashable, CustomStringConvertible {
    /// The ggml type of the cache tensors.
    public let ggmlType: GGMLType

    private init(_ type: GGMLType) { ggmlType = type }

    public static let f32 = KVCacheType(.f32)
    public static let f16 = KVCacheType(.f16)
    public static let bf16 = KVCacheType(.bf16)
    public static let q8_0 = KVCacheType(.q8_0)
    public static let q4_0 = KVCacheType(.q4_0)
    public static let q4_1 = KVCacheType(.q4_1)
    public static let q5_0 = KVCacheType(.q5_0)
    public static let q5_1 = KVCacheType(.q5_1)
    public static let iq4_nl = KVCacheType(.iq4_nl)

    /// The types llama.cpp accepts for the KV cache.
    public static let all: [KVCacheType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl]

    /// The cache type called `name` (`"q8_0"`, case-insensitive), or `nil`.
    public init?(name: String) {
        guard let match = Self.all.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = match
    }

    /// The lower-case name llama.cpp uses on its command line.
    public var name: String { ggmlType.name.lowercased() }

    public var description: String { name }

    /// Bytes of one cache row of `elements` values.
    ///
    /// - Returns: `nil` when `elements` is not a multiple of the type's block size (llama.cpp
    ///   refuses such a cache too).
    public func rowSize(_ elements: Int) -> Int? { ggmlType.rowSize(elements) }
}

/// What the estimate is for: the llama.cpp settings that change how much memory it takes.
public struct EstimateOptions: Sendable, Hashable {
    /// Total context in tokens (llama.cpp's `--ctx-size`, shared by all parallel sequences).
    public var context: Int
    /// Parallel sequences (llama-server's `--parallel`, slots).
    public var parallel: Int
    /// Physical batch size (`--ubatch-size`).
    public var ubatch: Int
    /// Element type of the K cache.
    public var typeK: KVCacheType
    /// Element type of the V cache.
    public var typeV: KVCacheType
    /// Flash attention (`--flash-attn on`); changes the compute buffer and the V layout.
    public var flashAttention: Bool
    /// llama.cpp's `--n-gpu-layers`: the last N of the model's layers plus the output layer
    /// counted as one more; `nil` offloads everything.
    public var gpuLayers: Int?
    /// One KV buffer shared by all sequences (`--kv-unified`, llama-server's default when it
    /// picks the slot count itself) rather than one stream per sequence.
    public var unifiedKV: Bool

    public init(context: Int, parallel: Int = 1, ubatch: Int = 512, typeK: KVCacheType = .f16,
                typeV: KVCacheType = .f16, flashAttention: Bool = true, gpuLayers: Int? = nil,
                unifiedKV: Bool = true) {
        self.context = context
        self.parallel = parallel
        self.ubatch = ubatch
        self.typeK = typeK
        self.typeV = typeV
        self.flashAttention = flashAttention
        self.gpuLayers = gpuLayers
        self.unifiedKV = unifiedKV
    }
}

/// What llama.cpp will allocate for a model, part by part, in bytes.
public struct MemoryEstimate: Sendable, Hashable, Codable {
    /// The context the estimate is for, after llama.cpp's padding to 256.
    public var context: Int
    /// Weights placed on the accelerator (offloaded layers, the output layer, and a second
    /// copy of the token embedding when the output is tied to it).
    public var weightsDevice: Int64
    /// Weights left in host memory (the token embedding and layers not offloaded).
    public var weightsHost: Int64
    /// The whole KV cache (both streams of sliding-window models, every layer).
    public var kvCache: Int64
    /// The part of ``kvCache`` on the accelerator (layers that are offloaded).
    public var kvCacheDevice: Int64
    /// The scheduler's compute buffer for the worst-case graph.
    public var computeBuffer: Int64
    /// Host buffers for outputs (logits of one token per sequence).
    public var hostBuffers: Int64
    /// What the accelerator needs: device weights, device KV cache and the compute buffer.
    public var deviceTotal: Int64

    /// Everything, host and device: what a CPU-only run allocates.
    public var total: Int64 { weightsDevice + weightsHost + kvCache + computeBuffer + hostBuffers }

    public init(context: Int, weightsDevice: Int64, weightsHost: Int64, kvCache: Int64, kvCacheDevice: Int64,
                computeBuffer: Int64, hostBuffers: Int64) {
        self.context = context
        self.weightsDevice = weightsDevice
        self.weightsHost = weightsHost
        self.kvCache = kvCache
        self.kvCacheDevice = kvCacheDevice
        self.computeBuffer = computeBuffer
        self.hostBuffers = hostBuffers
        deviceTotal = weightsDevice + kvCacheDevice + computeBuffer
    }
}
