/// The hyperparameters of a model that decide its memory, read from GGUF metadata the way
/// llama.cpp reads them.
public struct ModelShape: Sendable, Hashable {
    /// `general.architecture`.
    public var architecture: String
    /// Transformer blocks (`block_count`).
    public var layers: Int
    /// Hidden size (`embedding_length`).
    public var embeddingLength: Int
    /// Attention heads per layer.
    public var heads: [Int]
    /// KV heads per layer; 0 means the layer keeps no KV cache.
    public var kvHeads: [Int]
    /// K width per head, per layer (`key_length`, `key_length_swa` on sliding-window layers).
    public var keyLength: [Int]
    /// V width per head, per layer.
    public var valueLength: [Int]
    /// Feed-forward width per layer (for MoE models, the shared dense width if any).
    public var feedForwardLength: [Int]
    /// Training context (`context_length`).
    public var trainingContext: Int
    /// Vocabulary size.
    public var vocabularySize: Int
    /// Sliding-window size in tokens; 0 when the model has no sliding-window layers.
    public var slidingWindow: Int
    /// Which layers use the sliding window.
    public var slidingLayers: [Bool]
    /// Experts per MoE layer (0 for dense models).
    public var expertCount: Int
    /// Experts used per token.
    public var expertUsedCount: Int
    /// Feed-forward width of one expert.
    public var expertFeedForwardLength: Int

    /// Default sliding-window periods, for files that give a window but no pattern; llama.cpp
    /// hard-codes these per architecture (layer `il` slides unless `il % period == period - 1`).
    static let defaultSlidingPeriods: [String: Int] = [
        "gemma2": 2, "gemma3": 6, "gemma3n": 5, "gemma-embedding": 6, "cohere2": 4, "exaone4": 4,
        "llama4": 4, "olmo2": 4, "gpt-oss": 2, "afmoe": 4, "mellum": 4, "exaone-moe": 4, "plamo3": 8,
    ]

    /// Largest values accepted for each dimension: far beyond any real model, small enough
    /// that products of them cannot overflow what the estimate multiplies.
    static let maxHeads = 1 << 16
    static let maxWidth = 1 << 20
    static let maxFeedForward = 1 << 24
    static let maxWindow = 1 << 24
    static let maxVocabulary = 1 << 28

    /// Reads the shape from `file`.
    ///
    /// - Throws: ``GGUFError`` when a key llama.cpp requires (block count, embedding length,
    ///   head count) is missing or malformed.
    public init(file: GGUFFile) throws(GGUFError) {
        guard let architecture = file.architecture else {
            throw GGUFError(.missingKey, at: nil, "no general.architecture: not a model file")
        }
        self.architecture = architecture
        let layers = try file.uint(file.arch("block_count"))
        guard layers > 0, layers <= 4096 else {
            throw GGUFError(.wrongType, at: nil, "implausible block_count \(layers)")
        }
        self.layers = layers
        embeddingLength = try Self.bounded(try file.uint(file.arch("embedding_length")), Self.maxWidth, "embedding_length")
        guard let heads = try file.perLayerInts(file.arch("attention.head_count"), layers: layers) else {
            throw GGUFError(.missingKey, at: nil, "no metadata key '\(file.arch("attention.head_count"))'")
        }
        self.heads = try heads.map { v throws(GGUFError) in try Self.bounded(v, Self.maxHeads, "head_count") }
        kvHeads = try (try file.perLayerInts(file.arch("attention.head_count_kv"), layers: layers) ?? heads)
            .map { v throws(GGUFError) in try Self.bounded(v, Self.maxHeads, "head_count_kv") }
        // llama.cpp derives the head width from layer 0 when the file does not give it.
        let defaultHead = heads[0] > 0 ? embeddingLength / heads[0] : 0
        func width(_ field: String, _ fallback: Int) throws(GGUFError) -> Int {
            try Self.bounded(file[file.arch(field)]?.intValue ?? fallback, Self.maxWidth, field)
        }
        let keyFull = try width("attention.key_length", defaultHead)
        let valueFull = try width("attention.value_length", defaultHead)
        let keySWA = try width("attention.key_length_swa", keyFull)
        let valueSWA = try width("attention.value_length_swa", valueFull)

        slidingWindow = try Self.bounded(file[file.arch("attention.sliding_window")]?.intValue ?? 0, Self.maxWindow, "sliding_window")
        slidingLayers = try Self.slidingPattern(file, layers: layers, window: slidingWindow, architecture: architecture)
        keyLength = slidingLayers.map { $0 ? keySWA : keyFull }
        valueLength = slidingLayers.map { $0 ? valueSWA : valueFull }
        feedForwardLength = try (try file.perLayerInts(file.arch("feed_forward_length"), layers: layers)
            ?? Array(repeating: 4 * embeddingLength, count: layers))
            .map { v throws(GGUFError) in try Self.bounded(v, Self.maxFeedForward, "feed_forward_length") }
        trainingContext = max(0, file[file.arch("context_length")]?.intValue ?? 0)
        vocabularySize = try Self.bounded(Self.vocabularySize(file), Self.maxVocabulary, "vocabulary size")
        expertCount = try Self.bounded(file[file.arch("expert_count")]?.intValue ?? 0, Self.maxHeads, "expert_count")
        expertUsedCount = try Self.bounded(file[file.arch("expert_used_count")]?.intValue ?? 0, Self.maxHeads, "expert_used_count")
        expertFeedForwardLength = try Self.bounded(file[file.arch("expert_feed_forward_length")]?.intValue ?? 0,
                                                   Self.maxFeedForward, "expert_feed_forward_length")
    }

    private static func bounded(_ value: Int, _ limit: Int, _ what: String) throws(GGUFError) -> Int {
        guard value >= 0, value <= limit else {
            throw GGUFError(.implausibleCount, at: nil, "\(what) \(value) is outside 0...\(limit)")
        }
        return value
    }

    private static func slidingPattern(_ file: GGUFFile, layers: Int, window: Int, architecture: String) throws(GGUFError) -> [Bool] {
        guard window > 0 else { return Array(repeating: false, count: layers) }
        let key = file.arch("attention.sliding_window_pattern")
        if let value = file[key], case .array = value {
            let flags = try file.arrayValues(key)
            guard flags.count == layers else {
                throw GGUFError(.wrongType, at: nil, "'\(key)' has \(flags.count) values for \(layers) layers")
            }
            // llama.cpp reads the array into bools; integers are accepted as 0/non-zero.
            return flags.map { $0.boolValue ?? (($0.intValue ?? 0) != 0) }
        }
        // A period longer than the model is fine (every layer slides); only absurd ones are refused.
        let period = try bounded(file[key]?.intValue ?? defaultSlidingPeriods[architecture] ?? 0, maxHeads, "sliding_window_pattern")
        // A period of 0 makes every layer slide, as in llama.cpp.
        return (0 ..< layers).map { period == 0 || $0 % period < period - 1 }
    }

    private static func vocabularySize(_ file: GGUFFile) -> Int {
        if let tokens = file["tokenizer.ggml.tokens"]?.arrayValue { return tokens.count }
        if let size = file[file.arch("vocab_size")]?.intValue { return size }
        return file.tensor(named: "token_embd.weight")?.dimensions.last ?? 0
    }

    /// Whether layer `layer` keeps a KV cache.
    public func hasKV(_ layer: Int) -> Bool { kvHeads[layer] > 0 }
}
