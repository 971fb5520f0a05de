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

    /// An estimate from its parts; ``deviceTotal`` is derived.
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
