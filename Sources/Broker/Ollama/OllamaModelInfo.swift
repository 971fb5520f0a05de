import Foundation
import GGUF
import Synchronization
import VRAMConfig

/// What Ollama's `/api/tags`, `/api/show` and `/api/ps` say about a model, read from its GGUF
/// header where it has one: the `memory: {gguf: …}` file, or the `-m`/`--model` file of a
/// process backend's command.
struct OllamaModelInfo: Sendable {
    var details: [String: any Sendable]
    var modelInfo: [String: any Sendable]
    var template: String?
    var contextLength: Int?
    var fileSize: Int64?
    var modified: Date?

    /// Headers read once per file.
    private static let cache = Mutex<[String: OllamaModelInfo]>([:])

    static func of(_ model: ModelConfig, resolve: (String) -> String) -> OllamaModelInfo {
        guard let path = model.ggufPath(resolve: resolve) else { return OllamaModelInfo(model, file: nil, path: nil) }
        if let known = cache.withLock({ $0[path] }) { return known }
        let info = OllamaModelInfo(model, file: try? GGUFFile.open(path: path), path: path)
        cache.withLock { $0[path] = info }
        return info
    }

    private init(_ model: ModelConfig, file: GGUFFile?, path: String?) {
        // The file's own size and time, not a link's (the bootstrap links the model in place).
        let attributes = path.flatMap { try? FileManager.default.attributesOfItem(atPath: URL(filePath: $0).resolvingSymlinksInPath().path) }
        fileSize = (attributes?[.size] as? NSNumber)?.int64Value
        modified = attributes?[.modificationDate] as? Date
        let architecture = file?.architecture
        let family = architecture ?? model.kind.rawValue
        details = [
            "parent_model": "", "format": file == nil ? "" : "gguf", "family": family, "families": [family],
            "parameter_size": file.map { Self.parameterSize($0.parameterCount) } ?? "",
            "quantization_level": file?.quantization ?? "",
        ]
        var info: [String: any Sendable] = [:]
        if let file {
            info["general.parameter_count"] = file.parameterCount
            for entry in file.metadata {
                // Scalars and short arrays; the vocabulary and merges are what Ollama leaves out too.
                if let value = Self.plain(entry.value) { info[entry.key] = value }
            }
        }
        modelInfo = info
        template = file?["tokenizer.chat_template"]?.stringValue
        contextLength = architecture.flatMap { file?["\($0).context_length"]?.intValue }
    }

    /// `268M`, `7.6B`: how Ollama writes a parameter count.
    static func parameterSize(_ count: Int) -> String {
        let value = Double(count)
        if value >= 1e9 { return String(format: "%.1fB", value / 1e9) }
        if value >= 1e6 { return String(format: "%.0fM", value / 1e6) }
        return "\(count)"
    }

    private static func plain(_ value: GGUFValue) -> (any Sendable)? {
        switch value {
        case .string(let text): text
        case .bool(let flag): flag
        case .float32(let number): Double(number)
        case .float64(let number): number
        case .array: nil
        default: value.intValue
        }
    }
}
