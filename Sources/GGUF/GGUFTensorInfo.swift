/// One tensor's entry in the header: where its data is and how big it is.
public struct GGUFTensorInfo: Sendable, Hashable {
    /// The tensor name, such as `blk.3.attn_q.weight`.
    public var name: String
    /// Dimensions, innermost first (ggml's `ne`).
    public var dimensions: [Int]
    /// Element type.
    public var type: GGMLType
    /// Offset of the data from the start of the tensor data section.
    public var offset: Int
    /// Byte offset of this tensor info in the file (for error messages).
    public var infoOffset: Int

    /// A tensor info as the header stores it.
    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, infoOffset: Int = 0) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.infoOffset = infoOffset
    }

    /// Number of elements (1 for a tensor without dimensions).
    public var elementCount: Int {
        // The parser rejected overflowing products, so wrapping cannot happen for read tensors.
        dimensions.reduce(1, &*)
    }

    /// Bytes of data, or `nil` when the type is unknown.
    public var byteCount: Int? {
        guard let first = dimensions.first else { return type.rowSize(1) }
        guard let row = type.rowSize(first) else { return nil }
        let rows = dimensions.dropFirst().reduce(1, &*)
        let (bytes, overflow) = row.multipliedReportingOverflow(by: rows)
        return overflow ? nil : bytes
    }

    /// The block index for `blk.N.…` tensors, `nil` for the others (embeddings, output).
    public var layer: Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        return Int(rest[..<dot])
    }
}

/// One metadata key/value pair, in file order.
public struct GGUFMetadataEntry: Sendable, Hashable {
    /// The key, such as `general.architecture`.
    public var key: String
    /// Its value.
    public var value: GGUFValue
    /// Byte offset of the key in the file.
    public var offset: Int

    /// A metadata pair found at byte `offset`.
    public init(key: String, value: GGUFValue, offset: Int) {
        self.key = key
        self.value = value
        self.offset = offset
    }
}
