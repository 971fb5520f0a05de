/// An approximation of the compute buffer llama.cpp's scheduler reserves for its worst-case
/// graph (one ubatch of `min(ctx, ubatch)` tokens against a full KV cache).
///
/// The real size comes out of ggml's graph allocator, which packs the intermediate tensors of
/// the whole graph into one buffer; simulating it would mean rebuilding every architecture's
/// graph. Instead the estimate adds the parts that measurably dominate it:
///
/// - the attention masks, live for the whole graph: one per cache (full and sliding-window),
///   `cells × tokens` elements, f16 with flash attention and f32 without;
/// - the larger of two peaks, in f32 values per token:
///   - the feed-forward block, `5·embd + 3·ffn` (for MoE, `ffn` is the width of the experts
///     used per token together, when that is larger than the dense width);
///   - the attention block, `embd + 5·q + 2·kv` (`q` and `kv` the query and key widths), plus,
///     without flash attention, the `KQ` score matrix of the widest layer,
///     `cells × tokens × heads` f32, which dwarfs everything else at long contexts;
/// - or, if larger, the logits of one output per sequence.
///
/// The per-token coefficients were fitted on three models with llama.cpp's CPU backend:
/// gemma-3-270m (sliding window, 4 heads of 256, ffn 2048), a synthetic llama (GQA 8/2 heads of
/// 64, ffn 1408) and a synthetic qwen3moe (4 of 16 experts of 384), across ubatch 64…1024,
/// contexts 512…32768 and 1 or 4 sequences. The peaks match the measured slopes within 0.2% (e.g. gemma: 9,344 vs 9,354 values per token
/// with flash attention, 6,272 vs 6,280 beside `KQ`). What the fit cannot see: GPU backends
/// allocate the same graph but may fuse or split operations differently, and the allocator's
/// fragmentation shifts small-context cases by a few percent of the compute buffer.
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
        let layers = 0 ..< shape.layers
        let query = Int64(layers.map { shape.heads[$0] * shape.keyLength[$0] }.max() ?? 0)
        let keys = Int64(layers.map { shape.kvHeads[$0] * shape.keyLength[$0] }.max() ?? 0)
        let denseFFN = Int64(shape.feedForwardLength.max() ?? 0)
        // An MoE layer computes the active experts side by side: their widths add up.
        let expertFFN = Int64(shape.expertUsedCount) * Int64(shape.expertFeedForwardLength)
        let feedForward = 5 * embd + 3 * max(denseFFN, expertFFN)
        var attention = try Checked.product(tokens, 4, embd + 5 * query + 2 * keys)
        if !options.flashAttention {
            var scores: Int64 = 0
            for layer in kvLayers {
                scores = max(scores, try Checked.product(cellsRead(layer), tokens, Int64(shape.heads[layer]), 4))
            }
            attention = try Checked.sum([attention, scores])
        }
        let peak = max(try Checked.product(tokens, 4, feedForward), attention)
        // The logits of one output per sequence, with the hidden state they come from.
        let logits = try Checked.product(Int64(options.parallel), 4, Int64(shape.vocabularySize) + embd)
        bytes = try Checked.sum([masks, max(peak, logits)])
    }
}
