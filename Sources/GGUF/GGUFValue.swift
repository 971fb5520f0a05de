/// The 13 metadata value types of GGUF, with their on-disk ids.
public enum GGUFValueType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes per value for the fixed-size types; `nil` for strings and arrays.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    public var description: String {
        switch self {
        case .uint8: "u8"
        case .int8: "i8"
        case .uint16: "u16"
        case .int16: "i16"
        case .uint32: "u32"
        case .int32: "i32"
        case .float32: "f32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "u64"
        case .int64: "i64"
        case .float64: "f64"
        }
    }
}

/// One metadata value.
public enum GGUFValue: Sendable, Hashable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), array(GGUFArray)
    case uint64(UInt64), int64(Int64), float64(Double)

    /// The value's type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// Any integer type whose value fits an `Int`.
    ///
    /// Writers disagree on widths (gguf-py stores u32 where the spec suggests u64), so callers
    /// ask for "an integer" rather than for one width.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// Any numeric value as a `Double` (integers converted).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: intValue.map(Double.init)
        }
    }

    /// The string, for a string value.
    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The flag, for a bool value.
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The array, for an array value.
    public var arrayValue: GGUFArray? {
        if case .array(let v) = self { return v }
        return nil
    }
}

/// An array value. Large arrays (a tokenizer's vocabulary) are not loaded when the header is
/// read; ``values`` is then `nil` and ``GGUFFile/arrayValues(_:)`` reads them on demand.
public struct GGUFArray: Sendable, Hashable {
    /// Type of every element (never `.array`: nested arrays are rejected).
    public var elementType: GGUFValueType
    /// Number of elements.
    public var count: Int
    /// Byte offset of the first element in the file.
    public var offset: Int
    /// The elements, when loaded.
    public var values: [GGUFValue]?

    /// An array of `count` elements of `elementType` starting at byte `offset`.
    public init(elementType: GGUFValueType, count: Int, offset: Int, values: [GGUFValue]?) {
        self.elementType = elementType
        self.count = count
        self.offset = offset
        self.values = values
    }
}
