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
    /// llama.cpp's `--swa-full`: sliding-window layers get a full-size cache too (what a saved
    /// and restored prompt needs to be reused).
    public var swaFull = false

    /// Options with llama.cpp's defaults for everything but the context.
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
