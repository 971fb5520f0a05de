/// An approximation of the compute buffer llama.cpp's scheduler reserves for its worst-case
/// graph (one ubatch of `min(ctx, ubatch)` tokens against a full KV cache).
///
/// The real size comes out of ggml's graph allocator, which packs the intermediate tensors of
/// the whole graph into one buffer; simulating it would mean rebuilding every architecture's
/// graph. Instead the estimate adds the parts that measurably dominate it:
///
/// - the attention masks, live for the whole graph: one per cache (full and sliding-window),
///   `cells × tokens` elements, f16 with flash attention and f32 without;
/// - without flash attention, the `KQ` score matrix of the widest layer,
///   `cells × tokens × heads` f32, which dwarfs everything else at long contexts;
/// - the per-token activations live at the peak: `4 × (2·ffn + 4·q + 2·embd)` bytes per token
///   (`ffn` the feed-forward width, or the active experts' width for MoE; `q` the query width),
///   and `4 × (5·q + 2·embd)` beside the `KQ` matrix.
///
/// The per-token coefficients were fitted on gemma-3-270m with llama.cpp's CPU backend, where
/// the measured slopes are 37.4 KB (flash attention) and 25.1 KB (beside `KQ`) per token against
/// 37.9 KB and 25.6 KB from these formulas, across ubatch 64…1024, contexts 512…32768 and 1 or
/// 4 sequences. GPU backends allocate the same graph; other architectures may differ by a few
/// megabytes per thousand tokens of ubatch.
struct ComputeBufferModel {
    let bytes: Int64

    init(shape: ModelShape, options: EstimateOptions, cells: KVCacheLayout) throws(GGUFError) {
        let tokens = Int64(min(cells.context, options.ubatch))
        let maskElement: Int64 = options.flashAttention ? 2 : 4
        let kvLayers = (0 ..< shape.layers).filter { shape.hasKV($0) }
        // Cells attention reads per stream; the masks and KQ cover every stream, so per-stream
        // cells times all tokens is the total.
        func cellsRead(_ layer: Int) -> Int64 {
            Int64(shape.slidingLayers[layer] ? cells.slidingCells : cells.fullCells)
        }
        var masks: Int64 = 0
        if kvLayers.contains(where: { !shape.slidingLayers[$0] }) {
            masks += try Checked.product(Int64(cells.fullCells), tokens, maskElement)
        }
        if kvLayers.contains(where: { shape.slidingLayers[$0] }) {
            masks += try Checked.product(Int64(cells.slidingCells), tokens, maskElement)
        }

        // ModelShape bounds every width, so these per-token sums stay far from overflow.
        let embd = Int64(shape.embeddingLength)
        let query = Int64((0 ..< shape.layers).map { shape.heads[$0] * shape.keyLength[$0] }.max() ?? 0)
        let denseFFN = Int64(shape.feedForwardLength.max() ?? 0)
        let expertFFN = Int64(shape.expertUsedCount) * Int64(shape.expertFeedForwardLength)
        let ffn = max(denseFFN, expertFFN)
        let activations = try Checked.product(tokens, 4, 2 * ffn + 4 * query + 2 * embd + Int64(shape.expertCount))

        var peak = activations
        if !options.flashAttention {
            var scores: Int64 = 0
            for layer in kvLayers {
                scores = max(scores, try Checked.product(cellsRead(layer), tokens, Int64(shape.heads[layer]), 4))
            }
            let beside = try Checked.product(tokens, 4, 5 * query + 2 * embd)
            peak = max(peak, try Checked.sum([scores, beside]))
        }
        // The logits of one output per sequence, with the hidden state they come from.
        let logits = try Checked.product(Int64(options.parallel), 4, Int64(shape.vocabularySize) + embd)
        bytes = try Checked.sum([masks, max(peak, logits)])
    }
}
