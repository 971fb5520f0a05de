/// Computes what llama.cpp allocates for a model: weights, KV cache, compute buffer and
/// output buffers, following the sizing rules of llama.cpp's loader, KV cache and scheduler.
///
/// The weights and the KV cache are exact (they are byte sizes of known tensors); the compute
/// buffer is an approximation, see ``ComputeBufferModel``.
public struct MemoryEstimator: Sendable {
    /// The file the estimate is for.
    public let file: GGUFFile
    /// Its hyperparameters.
    public let shape: ModelShape

    /// llama.cpp pads the context and every KV cache size to this many cells.
    static let contextPadding = 256
    /// Smallest context ``fit(budget:options:)`` proposes, as the old Python estimator did.
    public static let minimumFitContext = 512
    /// Limits on the options, far beyond real use, that keep every product in 64 bits.
    static let maxContext = 1 << 24
    static let maxParallel = 1 << 12
    static let maxUbatch = 1 << 20

    /// Bytes of the weights of each block, of the input layer (token embedding, kept on the
    /// host), and of the output layer (output norm and head).
    let layerWeights: [Int64]
    let inputWeights: Int64
    let outputWeights: Int64
    /// Bytes of the token embedding, counted again on the device when the output is tied to it.
    let tiedOutputWeights: Int64

    /// Prepares an estimator for `file`.
    ///
    /// - Throws: ``GGUFError`` when the metadata lacks what the estimate needs.
    public init(file: GGUFFile) throws(GGUFError) {
        self.file = file
        shape = try ModelShape(file: file)
        var layers = Array(repeating: Int64(0), count: shape.layers)
        var input: Int64 = 0
        var output: Int64 = 0
        // Each tensor lies inside the file (the parser checked), so these sums are bounded by
        // tensor count × file size; still checked, since a file can repeat one region.
        for tensor in file.tensors {
            guard let bytes = tensor.byteCount else {
                throw GGUFError(.badTensor, at: tensor.infoOffset, "tensor '\(tensor.name)' has unknown type \(tensor.type); its size is unknown")
            }
            if let layer = tensor.layer, layer >= 0, layer < shape.layers {
                layers[layer] = try Checked.sum([layers[layer], Int64(bytes)])
            } else if Self.isInputTensor(tensor.name) {
                input = try Checked.sum([input, Int64(bytes)])
            } else {
                output = try Checked.sum([output, Int64(bytes)])
            }
        }
        layerWeights = layers
        inputWeights = input
        outputWeights = output
        let tied = file.tensor(named: "output.weight") == nil
        tiedOutputWeights = tied ? Int64(file.tensor(named: "token_embd.weight")?.byteCount ?? 0) : 0
    }

    /// Tensors llama.cpp assigns to the input layer, which it always keeps on the CPU.
    static func isInputTensor(_ name: String) -> Bool {
        name.hasPrefix("token_embd.") || name.hasPrefix("position_embd.") || name.hasPrefix("token_types.")
    }

    /// Estimates the memory for `options`.
    ///
    /// - Throws: ``GGUFError`` when the options make no sense for the model (a context below
    ///   1, a cache type whose blocks do not divide the head width).
    public func estimate(_ options: EstimateOptions) throws(GGUFError) -> MemoryEstimate {
        guard (1 ... Self.maxContext).contains(options.context), (1 ... Self.maxParallel).contains(options.parallel),
              (1 ... Self.maxUbatch).contains(options.ubatch) else {
            throw GGUFError(.invalidOptions, at: nil, "context, parallel or ubatch out of range (\(options.context), \(options.parallel), \(options.ubatch))")
        }
        let kv = try KVCacheLayout(shape: shape, options: options)
        let placement = Placement(layers: shape.layers, gpuLayers: options.gpuLayers)
        let deviceLayers = layerWeights.indices.filter(placement.onDevice)
        let hostLayers = layerWeights.indices.filter { !placement.onDevice($0) }
        let output = placement.outputOnDevice ? [outputWeights, tiedOutputWeights] : []
        let device = try Checked.sum(deviceLayers.map { layerWeights[$0] } + output)
        let host = try Checked.sum(hostLayers.map { layerWeights[$0] } + [inputWeights, placement.outputOnDevice ? 0 : outputWeights])
        let kvDevice = try Checked.sum(deviceLayers.map { kv.perLayer[$0] })
        let compute = try ComputeBufferModel(shape: shape, options: options, cells: kv).bytes
        let estimate = MemoryEstimate(
            context: kv.context,
            weightsDevice: device,
            weightsHost: host,
            kvCache: try Checked.sum(kv.perLayer),
            kvCacheDevice: kvDevice,
            computeBuffer: compute,
            // llama.cpp reserves logits for one output per sequence, as f32.
            hostBuffers: Int64(shape.vocabularySize) * Int64(options.parallel) * 4
        )
        // The totals MemoryEstimate adds up must not overflow either.
        _ = try Checked.sum([device, host, estimate.kvCache, compute, estimate.hostBuffers])
        return estimate
    }

    /// The largest context whose ``MemoryEstimate/deviceTotal`` fits in `budget`: a multiple of
    /// 256, at least 512 and at most the training context. `options.context` is ignored.
    ///
    /// - Returns: `nil` when not even 512 tokens fit.
    public func fit(budget: Int64, options: EstimateOptions) throws(GGUFError) -> MemoryEstimate? {
        let quantum = Self.contextPadding
        let floor = Self.minimumFitContext
        let trained = min(shape.trainingContext, Self.maxContext)
        let ceiling = max(floor, trained / quantum * quantum)
        var options = options
        func attempt(_ context: Int) throws(GGUFError) -> MemoryEstimate {
            options.context = context
            return try estimate(options)
        }
        let smallest = try attempt(floor)
        guard smallest.deviceTotal <= budget else { return nil }
        // Memory grows with the context, so a binary search over multiples of 256 finds the edge.
        var low = floor / quantum
        var high = ceiling / quantum
        var best = smallest
        while low < high {
            let middle = (low + high + 1) / 2
            let candidate = try attempt(middle * quantum)
            if candidate.deviceTotal <= budget {
                low = middle
                best = candidate
            } else {
                high = middle - 1
            }
        }
        if best.context != low * quantum { best = try attempt(low * quantum) }
        return best
    }
}

/// Which layers llama.cpp offloads for `--n-gpu-layers N`: the last N of the blocks plus the
/// output layer, which counts as one more layer after the last block.
struct Placement {
    let firstDeviceLayer: Int
    let layers: Int

    init(layers: Int, gpuLayers: Int?) {
        let requested = max(0, gpuLayers ?? layers + 1)
        self.layers = layers
        firstDeviceLayer = max(layers + 1 - requested, 0)
    }

    func onDevice(_ layer: Int) -> Bool { layer >= firstDeviceLayer }
    var outputOnDevice: Bool { layers >= firstDeviceLayer }
}
