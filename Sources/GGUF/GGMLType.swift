/// A ggml tensor element type, as stored in a tensor info.
///
/// Kept as the raw id so a type this code does not know (a newer ggml) survives reading: the
/// file is still listed and inspected, only its byte size is unknown.
public struct GGMLType: Sendable, Hashable, CustomStringConvertible {
    /// The id as stored in the file.
    public var rawValue: UInt32

    /// The type with ggml id `rawValue`, known or not.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Block layout of a known type: `blockSize` elements take `typeSize` bytes.
    struct Layout {
        var name: String
        var blockSize: Int
        var typeSize: Int
    }

    // From ggml.h and the block structs in ggml-common.h (sizes measured with the C compiler).
    // Ids 4, 5 and 31...33, 36...38 were removed from ggml and stay unknown here.
    private static let layouts: [UInt32: Layout] = [
        0: Layout(name: "F32", blockSize: 1, typeSize: 4),
        1: Layout(name: "F16", blockSize: 1, typeSize: 2),
        2: Layout(name: "Q4_0", blockSize: 32, typeSize: 18),
        3: Layout(name: "Q4_1", blockSize: 32, typeSize: 20),
        6: Layout(name: "Q5_0", blockSize: 32, typeSize: 22),
        7: Layout(name: "Q5_1", blockSize: 32, typeSize: 24),
        8: Layout(name: "Q8_0", blockSize: 32, typeSize: 34),
        9: Layout(name: "Q8_1", blockSize: 32, typeSize: 36),
        10: Layout(name: "Q2_K", blockSize: 256, typeSize: 84),
        11: Layout(name: "Q3_K", blockSize: 256, typeSize: 110),
        12: Layout(name: "Q4_K", blockSize: 256, typeSize: 144),
        13: Layout(name: "Q5_K", blockSize: 256, typeSize: 176),
        14: Layout(name: "Q6_K", blockSize: 256, typeSize: 210),
        15: Layout(name: "Q8_K", blockSize: 256, typeSize: 292),
        16: Layout(name: "IQ2_XXS", blockSize: 256, typeSize: 66),
        17: Layout(name: "IQ2_XS", blockSize: 256, typeSize: 74),
        18: Layout(name: "IQ3_XXS", blockSize: 256, typeSize: 98),
        19: Layout(name: "IQ1_S", blockSize: 256, typeSize: 50),
        20: Layout(name: "IQ4_NL", blockSize: 32, typeSize: 18),
        21: Layout(name: "IQ3_S", blockSize: 256, typeSize: 110),
        22: Layout(name: "IQ2_S", blockSize: 256, typeSize: 82),
        23: Layout(name: "IQ4_XS", blockSize: 256, typeSize: 136),
        24: Layout(name: "I8", blockSize: 1, typeSize: 1),
        25: Layout(name: "I16", blockSize: 1, typeSize: 2),
        26: Layout(name: "I32", blockSize: 1, typeSize: 4),
        27: Layout(name: "I64", blockSize: 1, typeSize: 8),
        28: Layout(name: "F64", blockSize: 1, typeSize: 8),
        29: Layout(name: "IQ1_M", blockSize: 256, typeSize: 56),
        30: Layout(name: "BF16", blockSize: 1, typeSize: 2),
        34: Layout(name: "TQ1_0", blockSize: 256, typeSize: 54),
        35: Layout(name: "TQ2_0", blockSize: 256, typeSize: 66),
        39: Layout(name: "MXFP4", blockSize: 32, typeSize: 17),
        40: Layout(name: "NVFP4", blockSize: 64, typeSize: 36),
        41: Layout(name: "Q1_0", blockSize: 128, typeSize: 18),
        42: Layout(name: "Q2_0", blockSize: 64, typeSize: 18),
    ]

    /// ggml's `F32`.
    public static let f32 = GGMLType(rawValue: 0)
    /// ggml's `F16`.
    public static let f16 = GGMLType(rawValue: 1)
    /// ggml's `Q4_0`.
    public static let q4_0 = GGMLType(rawValue: 2)
    /// ggml's `Q4_1`.
    public static let q4_1 = GGMLType(rawValue: 3)
    /// ggml's `Q5_0`.
    public static let q5_0 = GGMLType(rawValue: 6)
    /// ggml's `Q5_1`.
    public static let q5_1 = GGMLType(rawValue: 7)
    /// ggml's `Q8_0`.
    public static let q8_0 = GGMLType(rawValue: 8)
    /// ggml's `Q4_K`.
    public static let q4_K = GGMLType(rawValue: 12)
    /// ggml's `Q6_K`.
    public static let q6_K = GGMLType(rawValue: 14)
    /// ggml's `IQ4_NL`.
    public static let iq4_nl = GGMLType(rawValue: 20)
    /// ggml's `BF16`.
    public static let bf16 = GGMLType(rawValue: 30)

    var layout: Layout? { Self.layouts[rawValue] }

    /// Whether this code knows the type's block layout.
    public var isKnown: Bool { layout != nil }

    /// The ggml name (`Q4_K`), or `unknown(N)`.
    public var name: String { layout?.name ?? "unknown(\(rawValue))" }

    public var description: String { name }

    /// Elements per block (32 for `Q8_0`, 256 for k-quants); `nil` when unknown.
    public var blockSize: Int? { layout?.blockSize }

    /// Bytes per block; `nil` when unknown.
    public var typeSize: Int? { layout?.typeSize }

    /// The known type with this ggml name (case-insensitive), such as `q8_0`.
    public init?(name: String) {
        let upper = name.uppercased()
        guard let match = Self.layouts.first(where: { $0.value.name == upper }) else { return nil }
        self.rawValue = match.key
    }

    /// Bytes of one row of `elements` elements, as ggml's `ggml_row_size`.
    ///
    /// - Returns: `nil` when the type is unknown, the row does not fill whole blocks, or the
    ///   size overflows.
    public func rowSize(_ elements: Int) -> Int? {
        guard let layout, elements >= 0, elements % layout.blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / layout.blockSize).multipliedReportingOverflow(by: layout.typeSize)
        return overflow ? nil : bytes
    }
}
