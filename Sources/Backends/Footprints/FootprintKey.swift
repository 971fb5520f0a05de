import VRAMPolicy

/// What a measured footprint belongs to: a model and everything that changes what it occupies.
///
/// The variant is opaque to the store: two loads with the same variant are expected to occupy
/// the same memory. ``init(model:file:contextLength:parallel:kvType:)`` builds one from the
/// settings llama.cpp's footprint depends on; a caller with other settings may build its own.
public struct FootprintKey: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The configured model.
    public var model: ModelID
    /// The settings the footprint depends on, as one opaque string.
    public var variant: String

    public init(model: ModelID, variant: String) {
        self.model = model
        self.variant = variant
    }

    /// A key from the model file and the settings that size its buffers.
    public init(model: ModelID, file: String?, contextLength: Int?, parallel: Int?, kvType: String?) {
        let parts: [(String, String?)] = [
            ("file", file), ("context", contextLength.map(String.init)), ("parallel", parallel.map(String.init)), ("kv", kvType),
        ]
        self.init(model: model, variant: parts.compactMap { name, value in value.map { "\(name)=\($0)" } }.joined(separator: ";"))
    }

    public var description: String { variant.isEmpty ? model.rawValue : "\(model) [\(variant)]" }
}
