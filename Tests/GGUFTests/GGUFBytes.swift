@testable import GGUF

/// Builds GGUF files in memory, valid by default, so each hostile-input test can break exactly
/// one thing and know the byte offset where the reader must complain.
struct GGUFBytes {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes += withUnsafeBytes(of: value.littleEndian, Array.init) }
    mutating func u32(_ value: UInt32) { bytes += withUnsafeBytes(of: value.littleEndian, Array.init) }
    mutating func u64(_ value: UInt64) { bytes += withUnsafeBytes(of: value.littleEndian, Array.init) }
    mutating func raw(_ text: String) { bytes += Array(text.utf8) }

    mutating func string(_ text: String) {
        u64(UInt64(text.utf8.count))
        raw(text)
    }

    /// Magic, version and the two counts.
    mutating func header(version: UInt32 = 3, tensors: UInt64, keys: UInt64) {
        raw("GGUF")
        u32(version)
        u64(tensors)
        u64(keys)
    }

    /// A key, its type and an encoded value.
    mutating func keyValue(_ key: String, _ value: GGUFValue) {
        string(key)
        u32(value.type.rawValue)
        encode(value)
    }

    mutating func encode(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): u8(v)
        case .int8(let v): u8(UInt8(bitPattern: v))
        case .uint16(let v): u16(v)
        case .int16(let v): u16(UInt16(bitPattern: v))
        case .uint32(let v): u32(v)
        case .int32(let v): u32(UInt32(bitPattern: v))
        case .float32(let v): u32(v.bitPattern)
        case .bool(let v): u8(v ? 1 : 0)
        case .string(let v): string(v)
        case .uint64(let v): u64(v)
        case .int64(let v): u64(UInt64(bitPattern: v))
        case .float64(let v): u64(v.bitPattern)
        case .array(let array):
            u32(array.elementType.rawValue)
            u64(UInt64(array.count))
            for element in array.values ?? [] { encode(element) }
        }
    }

    /// A tensor info.
    mutating func tensor(_ name: String, _ dims: [UInt64], type: UInt32 = GGMLType.f32.rawValue, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for dim in dims { u64(dim) }
        u32(type)
        u64(offset)
    }

    /// Zero padding to `alignment`, then `data` zero bytes of tensor data.
    mutating func data(alignment: Int = 32, _ size: Int) {
        bytes += Array(repeating: 0, count: (alignment - count % alignment) % alignment + size)
    }

    /// A complete small file: the given metadata and one f32 tensor of 8 × 2.
    static func file(version: UInt32 = 3, metadata: [(String, GGUFValue)] = [], alignment: Int = 32) -> GGUFBytes {
        var file = GGUFBytes()
        file.header(version: version, tensors: 1, keys: UInt64(metadata.count))
        for (key, value) in metadata { file.keyValue(key, value) }
        file.tensor("weights", [8, 2], offset: 0)
        file.data(alignment: alignment, 64)
        return file
    }
}

extension GGUFValue {
    /// An array value with its elements, for the builder.
    static func list(_ type: GGUFValueType, _ values: [GGUFValue]) -> GGUFValue {
        .array(GGUFArray(elementType: type, count: values.count, offset: 0, values: values))
    }
}

/// Reads `bytes` and returns the error the reader throws, or `nil` when it reads them.
func readError(_ bytes: GGUFBytes) -> GGUFError? {
    do {
        _ = try GGUFFile(bytes: bytes.bytes)
        return nil
    } catch {
        return error
    }
}
