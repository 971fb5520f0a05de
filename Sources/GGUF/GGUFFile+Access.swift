/// Typed access to metadata. Each accessor throws a ``GGUFError`` that names the key when it
/// is missing or of another type, so callers can use `try` instead of unwrapping.
extension GGUFFile {
    /// An integer of any width and signedness under `key`.
    public func int(_ key: String) throws(GGUFError) -> Int {
        try typed(key, "an integer", \.intValue)
    }

    /// A non-negative integer under `key` (`file.uint("gemma3.block_count")`).
    public func uint(_ key: String) throws(GGUFError) -> Int {
        let int = try int(key)
        guard int >= 0 else { throw GGUFError(.wrongType, at: offset(of: key), "'\(key)' is negative (\(int))") }
        return int
    }

    /// A string under `key`.
    public func string(_ key: String) throws(GGUFError) -> String {
        try typed(key, "a string", \.stringValue)
    }

    /// A number (integer or float) under `key`, as a `Double`.
    public func double(_ key: String) throws(GGUFError) -> Double {
        try typed(key, "a number", \.doubleValue)
    }

    /// A bool under `key`.
    public func bool(_ key: String) throws(GGUFError) -> Bool {
        try typed(key, "a bool", \.boolValue)
    }

    /// Whether `key` is present.
    public func contains(_ key: String) -> Bool { self[key] != nil }

    /// The model architecture (`general.architecture`), such as `llama` or `gemma3`.
    public var architecture: String? { self["general.architecture"]?.stringValue }

    /// The key for an architecture-specific field: `arch("block_count")` is
    /// `gemma3.block_count` in a gemma3 file.
    public func arch(_ field: String) -> String {
        "\(architecture ?? "general").\(field)"
    }

    /// An integer that is either one scalar for every layer or an array with one value per
    /// layer (as `head_count_kv` is in models with layers of different shapes).
    ///
    /// - Returns: `layers` values, or `nil` when the key is absent.
    /// - Throws: when the value is neither, or the array has another length than `layers`.
    public func perLayerInts(_ key: String, layers: Int) throws(GGUFError) -> [Int]? {
        guard let value = self[key] else { return nil }
        if let scalar = value.intValue { return Array(repeating: scalar, count: layers) }
        guard case .array(let array) = value else {
            throw GGUFError(.wrongType, at: offset(of: key), "'\(key)' is a \(value.type), not an integer or an array")
        }
        guard array.count == layers else {
            throw GGUFError(.wrongType, at: offset(of: key), "'\(key)' has \(array.count) values for \(layers) layers")
        }
        var ints: [Int] = []
        for element in try arrayValues(key) {
            guard let int = element.intValue else {
                throw GGUFError(.wrongType, at: offset(of: key), "'\(key)' holds \(array.elementType) values, not integers")
            }
            ints.append(int)
        }
        return ints
    }

    private func typed<T>(_ key: String, _ kind: String, _ extract: (GGUFValue) -> T?) throws(GGUFError) -> T {
        let value = try required(key)
        guard let typed = extract(value) else {
            throw GGUFError(.wrongType, at: offset(of: key), "'\(key)' is a \(value.type), not \(kind)")
        }
        return typed
    }

    private func required(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let value = self[key] else { throw GGUFError(.missingKey, at: nil, "no metadata key '\(key)'") }
        return value
    }

    private func offset(of key: String) -> Int? {
        metadata.first { $0.key == key }?.offset
    }
}
