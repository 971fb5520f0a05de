import ArgumentParser
import VRAMPolicy
import Foundation
import GGUF

extension VRAMD {
    /// `vramd estimate MODEL.gguf`: what llama.cpp will allocate for a model.
    struct Estimate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Estimate the memory llama.cpp allocates for a GGUF model.",
            discussion: "Use --ctx fit --budget 6GiB for the largest context that fits a budget."
        )

        @Argument(help: "The GGUF model file.")
        var model: String

        @Option(name: .customLong("ctx"), help: "Context size in tokens, or 'fit' (default: the training context).")
        var context: String?

        @Option(help: "Device memory budget for --ctx fit (e.g. 6GiB, 512MB, 1.5GB).")
        var budget: String?

        @Option(help: "Parallel sequences (llama-server --parallel).")
        var parallel = 1

        @Option(help: "KV cache type for K and V (f16, q8_0, q4_0, ...).")
        var kvType = "f16"

        @Option(help: "Layers to offload, as llama.cpp's --n-gpu-layers (default: all).")
        var gpuLayers: Int?

        @Option(help: "Physical batch size (llama.cpp --ubatch-size).")
        var ubatch = 512

        @Flag(inversion: .prefixedNo, help: "Flash attention.")
        var flashAttention = true

        @Flag(inversion: .prefixedNo, help: "One KV buffer shared by all sequences (llama.cpp --kv-unified).")
        var unifiedKV = true

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func validate() throws {
            guard KVCacheType(name: kvType) != nil else {
                throw ValidationError("unknown --kv-type '\(kvType)'; use one of \(KVCacheType.all.map(\.name).joined(separator: ", "))")
            }
            if context == "fit" {
                guard let budget else { throw ValidationError("--ctx fit needs --budget") }
                guard ByteSize.parse(budget) != nil else { throw ValidationError("cannot read --budget '\(budget)'") }
            } else if let context, Int(context).map({ $0 > 0 }) != true {
                throw ValidationError("--ctx must be a positive number or 'fit', not '\(context)'")
            }
            guard parallel > 0, ubatch > 0 else { throw ValidationError("--parallel and --ubatch must be positive") }
        }

        func run() throws {
            let file = try GGUFFile.open(path: model)
            let estimator = try MemoryEstimator(file: file)
            let type = KVCacheType(name: kvType) ?? .f16
            var options = EstimateOptions(
                context: Int(context ?? "") ?? max(estimator.shape.trainingContext, 512), parallel: parallel,
                ubatch: ubatch, typeK: type, typeV: type, flashAttention: flashAttention,
                gpuLayers: gpuLayers, unifiedKV: unifiedKV
            )
            let estimate: MemoryEstimate
            if context == "fit", let budget = budget.flatMap(ByteSize.parse) {
                guard let fitted = try estimator.fit(budget: budget, options: options) else {
                    throw EstimateFailure(description: "not even \(MemoryEstimator.minimumFitContext) tokens fit in \(formatBytes(budget))")
                }
                estimate = fitted
                options.context = fitted.context
            } else {
                estimate = try estimator.estimate(options)
            }
            let report = Report(file: file, shape: estimator.shape, options: options, estimate: estimate)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                report.printTable()
            }
        }
    }

    /// A failure that is not a usage error, so no usage text follows it.
    struct EstimateFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// What `estimate` prints, as a table or as JSON.
    struct Report: Encodable {
        var model: String
        var architecture: String
        var parameters: Int
        var quantization: String?
        var layers: Int
        var trainingContext: Int
        var kvType: String
        var parallel: Int
        var flashAttention: Bool
        var estimate: MemoryEstimate

        init(file: GGUFFile, shape: ModelShape, options: EstimateOptions, estimate: MemoryEstimate) {
            model = file["general.name"]?.stringValue ?? "?"
            architecture = shape.architecture
            parameters = file.parameterCount
            quantization = file.quantization
            layers = shape.layers
            trainingContext = shape.trainingContext
            kvType = options.typeK.name
            parallel = options.parallel
            flashAttention = options.flashAttention
            self.estimate = estimate
        }

        func printTable() {
            print("model            \(model)")
            print("architecture     \(architecture)")
            print("parameters       \(formatCount(parameters))")
            print("quantization     \(quantization ?? "?")")
            print("layers           \(layers)")
            print("training context \(trainingContext)")
            print("context          \(estimate.context) (\(parallel) sequence\(parallel == 1 ? "" : "s"), KV \(kvType), flash attention \(flashAttention ? "on" : "off"))")
            print("")
            var rows: [(String, Int64)] = [
                ("weights (device)", estimate.weightsDevice),
                ("weights (host)", estimate.weightsHost),
                ("KV cache", estimate.kvCache),
            ]
            if estimate.kvCacheDevice != estimate.kvCache {
                rows.append(("  on the device", estimate.kvCacheDevice))
            }
            rows += [
                ("compute buffer", estimate.computeBuffer),
                ("host buffers", estimate.hostBuffers),
                ("device total", estimate.deviceTotal),
            ]
            for (name, bytes) in rows {
                print("\(name.padding(toLength: 17, withPad: " ", startingAt: 0))\(formatBytes(bytes).leftPadded(12))")
            }
        }
    }
}

/// `1.23 GiB`-style sizes for tables.
func formatBytes<T: BinaryInteger>(_ bytes: T) -> String {
    let value = Double(bytes)
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var scaled = value
    var unit = 0
    while abs(scaled) >= 1024, unit < units.count - 1 {
        scaled /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.2f", scaled) + " " + units[unit]
}

/// `268.1M`-style counts.
func formatCount(_ count: Int) -> String {
    let value = Double(count)
    if value >= 1e9 { return String(format: "%.2fB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.1fM", value / 1e6) }
    return String(count)
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
