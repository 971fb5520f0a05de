/// How llama.cpp sizes the KV cache for a context: cells per layer and bytes per layer.
///
/// Mirrors `llama_context` (context padded to 256; one stream per sequence unless unified)
/// and `llama_kv_cache_iswa` (sliding-window layers get
/// `pad(min(ctx, window × seqs + ubatch), 256)` cells instead of the full context).
struct KVCacheLayout {
    /// The context after padding (and, for split streams, rounding to a multiple of the streams).
    let context: Int
    /// Cells per stream in full-attention layers.
    let fullCells: Int
    /// Cells per stream in sliding-window layers.
    let slidingCells: Int
    /// Streams: 1 when unified, one per sequence otherwise.
    let streams: Int
    /// Bytes of K and V per layer, all streams together.
    let perLayer: [Int64]

    init(shape: ModelShape, options: EstimateOptions) throws(GGUFError) {
        let padding = MemoryEstimator.contextPadding
        func pad(_ value: Int) -> Int { (value + padding - 1) / padding * padding }
        var context = pad(options.context)
        let perStream: Int
        if options.unifiedKV {
            streams = 1
            perStream = context
        } else {
            streams = options.parallel
            perStream = pad(context / options.parallel)
            context = perStream * options.parallel
        }
        self.context = context
        fullCells = perStream
        let windowSeqs = options.unifiedKV ? options.parallel : 1
        slidingCells = options.swaFull ? perStream : pad(min(perStream, shape.slidingWindow * windowSeqs + options.ubatch))

        // Without flash attention V is stored transposed, and llama.cpp then pads every layer's
        // V rows to the widest layer.
        let vWidths = (0 ..< shape.layers).map { shape.valueLength[$0] * shape.kvHeads[$0] }
        let vTransposedWidth = vWidths.max() ?? 0
        var perLayer: [Int64] = []
        for layer in 0 ..< shape.layers {
            guard shape.hasKV(layer) else {
                perLayer.append(0)
                continue
            }
            let kWidth = shape.keyLength[layer] * shape.kvHeads[layer]
            let vWidth = options.flashAttention ? vWidths[layer] : vTransposedWidth
            guard let kRow = options.typeK.rowSize(kWidth), let vRow = options.typeV.rowSize(vWidth) else {
                throw GGUFError(.invalidOptions, at: nil,
                                "layer \(layer): K width \(kWidth) or V width \(vWidth) is not a multiple of the \(options.typeK)/\(options.typeV) block size")
            }
            let cells = shape.slidingLayers[layer] ? slidingCells : fullCells
            perLayer.append(try Checked.product(Int64(kRow) + Int64(vRow), Int64(cells), Int64(streams)))
        }
        self.perLayer = perLayer
    }
}
