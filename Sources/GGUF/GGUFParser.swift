/// Reads a GGUF header: magic, version, counts, metadata and tensor infos.
///
/// The layout (all little-endian): `GGUF`, u32 version, u64 tensor count, u64 key count, the
/// key/value pairs, the tensor infos, padding to `general.alignment`, then tensor data.
struct GGUFParser {
    /// Longest string accepted. Real ones (chat templates) are kilobytes; the cap only stops a
    /// crafted multi-gigabyte file from making the reader allocate gigabytes.
    static let maxStringLength = 1 << 28
    /// Smallest possible encodings, used to refuse counts the rest of the file cannot hold
    /// before anything is allocated for them.
    static let minKeyValueSize = 8 + 4 + 1
    static let minTensorInfoSize = 8 + 4 + 4 + 8
    static let maxDimensions = 4
    static let defaultAlignment = 32

    var cursor: ByteCursor
    let eagerArrayLimit: Int

    struct Header {
        var version: Int
        var metadata: [GGUFMetadataEntry]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
        var fileSize: Int
    }

    mutating func parseHeader() throws(GGUFError) -> Header {
        let magic = try cursor.bytes(4, "magic")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw GGUFError(.badMagic, at: 0, "not a GGUF file (magic \(magic.map { String($0, radix: 16) }))")
        }
        let versionOffset = cursor.position
        let version = try cursor.u32("version")
        // A big-endian file stores a small version number in the high bytes when read as
        // little-endian; gguf-py uses the same test.
        if version & 0xFFFF == 0, version != 0 {
            throw GGUFError(.byteSwapped, at: versionOffset,
                            "big-endian (byte-swapped) GGUF version \(version.byteSwapped); "
                                + "only little-endian files are supported (convert with gguf-convert-endian)")
        }
        guard version != 1 else {
            throw GGUFError(.unsupportedVersion, at: versionOffset,
                            "GGUF version 1 (32-bit counts) is not supported; reconvert the model")
        }
        guard version == 2 || version == 3 else {
            throw GGUFError(.unsupportedVersion, at: versionOffset, "GGUF version \(version) is not supported (2 and 3 are)")
        }

        let tensorCountOffset = cursor.position
        let tensorCount = try cursor.u64("tensor count")
        let keyCountOffset = cursor.position
        let keyCount = try cursor.u64("metadata key count")
        let keys = try plausibleCount(keyCount, each: Self.minKeyValueSize, at: keyCountOffset, "metadata key count")

        var metadata: [GGUFMetadataEntry] = []
        metadata.reserveCapacity(keys)
        var seenKeys = Set<String>()
        var alignment = Self.defaultAlignment
        for _ in 0 ..< keys {
            let keyOffset = cursor.position
            let key = try string("metadata key")
            guard seenKeys.insert(key).inserted else {
                throw GGUFError(.duplicateKey, at: keyOffset, "metadata key '\(key)' appears twice")
            }
            let type = try valueType(key)
            let valueOffset = cursor.position
            let value = try value(of: type, key)
            if key == "general.alignment" {
                alignment = try Self.checkAlignment(value, at: valueOffset)
            }
            metadata.append(GGUFMetadataEntry(key: key, value: value, offset: keyOffset))
        }

        // Counted only now: the count must fit in what is left after the metadata.
        let tensorTotal = try plausibleCount(tensorCount, each: Self.minTensorInfoSize, at: tensorCountOffset, "tensor count")
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorTotal)
        var seenNames = Set<String>()
        for _ in 0 ..< tensorTotal {
            let info = try tensorInfo()
            guard seenNames.insert(info.name).inserted else {
                throw GGUFError(.duplicateTensor, at: info.infoOffset, "tensor '\(info.name)' appears twice")
            }
            tensors.append(info)
        }

        let (padded, overflow) = cursor.position.addingReportingOverflow((alignment - cursor.position % alignment) % alignment)
        guard !overflow else { throw GGUFError(.badAlignment, at: cursor.position, "data offset overflows") }
        let dataOffset = padded
        for tensor in tensors {
            try Self.checkPlacement(tensor, alignment: alignment, dataOffset: dataOffset, fileSize: cursor.size)
        }
        return Header(version: Int(version), metadata: metadata, tensors: tensors,
                      alignment: alignment, dataOffset: dataOffset, fileSize: cursor.size)
    }

    /// Refuses a count whose smallest encoding would not fit in the rest of the file.
    private func plausibleCount(_ count: UInt64, each: Int, at offset: Int, _ what: String) throws(GGUFError) -> Int {
        let limit = cursor.remaining / each
        guard count <= UInt64(limit) else {
            throw GGUFError(.implausibleCount, at: offset,
                            "\(what) \(count) cannot fit in the \(cursor.remaining) bytes left in the file")
        }
        return Int(count)
    }

    mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let offset = cursor.position
        let length = try cursor.u64("length of \(what())")
        guard length <= UInt64(Self.maxStringLength) else {
            throw GGUFError(.implausibleCount, at: offset, "\(what()) claims \(length) bytes")
        }
        let bytes = try cursor.bytes(Int(length), what())
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func valueType(_ key: String) throws(GGUFError) -> GGUFValueType {
        let offset = cursor.position
        let raw = try cursor.u32("value type of '\(key)'")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError(.badValueType, at: offset, "value type \(raw) of '\(key)' is not one of the 13 GGUF types")
        }
        return type
    }

    mutating func value(of type: GGUFValueType, _ key: String) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.u8(key))
        case .int8: return .int8(Int8(bitPattern: try cursor.u8(key)))
        case .uint16: return .uint16(try cursor.u16(key))
        case .int16: return .int16(Int16(bitPattern: try cursor.u16(key)))
        case .uint32: return .uint32(try cursor.u32(key))
        case .int32: return .int32(Int32(bitPattern: try cursor.u32(key)))
        case .float32: return .float32(Float(bitPattern: try cursor.u32(key)))
        case .uint64: return .uint64(try cursor.u64(key))
        case .int64: return .int64(Int64(bitPattern: try cursor.u64(key)))
        case .float64: return .float64(Double(bitPattern: try cursor.u64(key)))
        case .bool:
            let offset = cursor.position
            let byte = try cursor.u8(key)
            guard byte <= 1 else { throw GGUFError(.badBool, at: offset, "bool '\(key)' is stored as \(byte), not 0 or 1") }
            return .bool(byte == 1)
        case .string: return .string(try string("string '\(key)'"))
        case .array: return .array(try array(key))
        }
    }

    private mutating func array(_ key: String) throws(GGUFError) -> GGUFArray {
        let typeOffset = cursor.position
        let elementType = try valueType(key)
        guard elementType != .array else {
            throw GGUFError(.nestedArray, at: typeOffset, "array '\(key)' holds arrays, which GGUF does not allow")
        }
        let countOffset = cursor.position
        let rawCount = try cursor.u64("element count of '\(key)'")
        let count = try plausibleCount(rawCount, each: elementType.fixedSize ?? 8, at: countOffset, "element count of '\(key)'")
        let start = cursor.position
        if count <= eagerArrayLimit {
            return GGUFArray(elementType: elementType, count: count, offset: start,
                             values: try elements(elementType, count: count, key))
        }
        if let size = elementType.fixedSize {
            // `plausibleCount` already proved count × size fits in the file.
            try cursor.skip(count * size, "array '\(key)'")
        } else {
            try cursor.skipStrings(count, maxLength: Self.maxStringLength, "string in array '\(key)'")
        }
        return GGUFArray(elementType: elementType, count: count, offset: start, values: nil)
    }

    /// Reads `count` elements; the caller has checked the count against the file.
    mutating func elements(_ type: GGUFValueType, count: Int, _ key: String) throws(GGUFError) -> [GGUFValue] {
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        for _ in 0 ..< count {
            values.append(try value(of: type, key))
        }
        return values
    }

    private mutating func tensorInfo() throws(GGUFError) -> GGUFTensorInfo {
        let infoOffset = cursor.position
        let name = try string("tensor name")
        let dimsOffset = cursor.position
        let dimCount = try cursor.u32("dimension count of '\(name)'")
        guard dimCount <= Self.maxDimensions else {
            throw GGUFError(.badTensor, at: dimsOffset, "tensor '\(name)' has \(dimCount) dimensions (at most 4)")
        }
        var dimensions: [Int] = []
        var elements = 1
        for _ in 0 ..< Int(dimCount) {
            let offset = cursor.position
            let raw = try cursor.u64("dimension of '\(name)'")
            guard let dim = Int(exactly: raw) else {
                throw GGUFError(.badTensor, at: offset, "tensor '\(name)' has dimension \(raw)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw GGUFError(.badTensor, at: offset, "tensor '\(name)' element count overflows") }
            elements = product
            dimensions.append(dim)
        }
        let type = GGMLType(rawValue: try cursor.u32("type of '\(name)'"))
        let offsetOffset = cursor.position
        let rawOffset = try cursor.u64("data offset of '\(name)'")
        guard let offset = Int(exactly: rawOffset) else {
            throw GGUFError(.badTensor, at: offsetOffset, "tensor '\(name)' has data offset \(rawOffset)")
        }
        if let block = type.blockSize, let first = dimensions.first, first % block != 0 {
            throw GGUFError(.badTensor, at: dimsOffset,
                            "tensor '\(name)' has \(first) columns, not a multiple of the \(type) block size \(block)")
        }
        return GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset, infoOffset: infoOffset)
    }

    static func checkAlignment(_ value: GGUFValue, at offset: Int) throws(GGUFError) -> Int {
        guard let alignment = value.intValue else {
            throw GGUFError(.badAlignment, at: offset, "general.alignment is a \(value.type), not an integer")
        }
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError(.badAlignment, at: offset, "general.alignment \(alignment) is not a power of two")
        }
        return alignment
    }

    /// Checks a tensor's data is aligned and lies inside the file, so sizes derived from the
    /// header describe something that exists.
    static func checkPlacement(_ tensor: GGUFTensorInfo, alignment: Int, dataOffset: Int, fileSize: Int) throws(GGUFError) {
        guard tensor.offset % alignment == 0 else {
            throw GGUFError(.badTensor, at: tensor.infoOffset,
                            "tensor '\(tensor.name)' data offset \(tensor.offset) is not a multiple of the alignment \(alignment)")
        }
        guard let bytes = tensor.byteCount else { return }
        let (start, overflow1) = dataOffset.addingReportingOverflow(tensor.offset)
        let (end, overflow2) = start.addingReportingOverflow(bytes)
        guard !overflow1, !overflow2, end <= fileSize else {
            throw GGUFError(.badTensor, at: tensor.infoOffset,
                            "tensor '\(tensor.name)' data (\(bytes) bytes at offset \(tensor.offset)) ends past the end of the file (\(fileSize) bytes)")
        }
    }
}
