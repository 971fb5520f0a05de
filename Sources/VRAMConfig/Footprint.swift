import GGUF
import VRAMPolicy

/// Where the footprint the planner counts came from.
public enum FootprintSource: String, Sendable, Codable {
    case declared, estimated, measured
}

/// A model's footprint before it is measured: its declared size, or an estimate from its GGUF
/// file computed the way llama.cpp allocates.
public struct Footprint: Sendable {
    public var bytes: Int64
    public var source: FootprintSource
    /// The estimate's parts, for models sized from a GGUF file.
    public var estimate: MemoryEstimate?

    /// Resolves `model.memory` against the config (paths relative to the config file, the
    /// device's capacity as the budget of `context: fit`).
    ///
    /// - Throws: ``ConfigError`` naming the file, the key path and what is wrong.
    public static func resolve(_ model: ModelConfig, in config: Config) throws(ConfigError) -> Footprint {
        switch model.memory {
        case .declared(let bytes):
            return Footprint(bytes: bytes, source: .declared, estimate: nil)
        case .gguf(let spec):
            let path = "models.\(model.id).memory"
            func failure(_ key: String, _ message: String) -> ConfigError {
                ConfigError(file: config.file, path: "\(path).\(key)", message: message)
            }
            let file: GGUFFile
            let estimator: MemoryEstimator
            let resolved = config.resolvePath(spec.path)
            do {
                file = try GGUFFile.open(path: resolved)
                estimator = try MemoryEstimator(file: file)
            } catch {
                throw failure("gguf", "\(resolved): \(error)")
            }
            guard let kv = KVCacheType(name: spec.kvType) else { throw failure("kv_type", "unknown cache type '\(spec.kvType)'") }
            var options = EstimateOptions(context: 4096, parallel: spec.parallel, typeK: kv, typeV: kv,
                                          flashAttention: spec.flashAttention, gpuLayers: spec.gpuLayers)
            options.swaFull = spec.swaFull
            do {
                switch spec.context {
                case .tokens(let tokens):
                    options.context = tokens
                    let estimate = try estimator.estimate(options)
                    return Footprint(bytes: estimate.deviceTotal, source: .estimated, estimate: estimate)
                case .fit:
                    let device = model.device.flatMap { config.device($0) } ?? config.devices.first
                    guard let budget = spec.budget ?? device.flatMap({ d in d.capacity.map { $0 - d.cushion } }) else {
                        throw failure("budget", "context: fit needs a budget here (the device '\(device?.id.rawValue ?? "")' has no capacity in the config)")
                    }
                    guard let estimate = try estimator.fit(budget: budget, options: options) else {
                        throw failure("context", "not even a 512-token context fits in \(ByteSize.format(budget))")
                    }
                    return Footprint(bytes: estimate.deviceTotal, source: .estimated, estimate: estimate)
                }
            } catch let error as ConfigError {
                throw error
            } catch {
                throw failure("gguf", "\(resolved): \(error)")
            }
        }
    }
}
