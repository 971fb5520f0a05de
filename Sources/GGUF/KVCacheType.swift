/// An element type for the KV cache, as llama.cpp's `--cache-type-k` / `--cache-type-v` take.
public struct KVCacheType: Sendable, Hashable, CustomStringConvertible {
    /// The ggml type of the cache tensors.
    public let ggmlType: GGMLType

    private init(_ type: GGMLType) { ggmlType = type }

    /// `f32` cache elements.
    public static let f32 = KVCacheType(.f32)
    /// `f16` cache elements.
    public static let f16 = KVCacheType(.f16)
    /// `bf16` cache elements.
    public static let bf16 = KVCacheType(.bf16)
    /// `q8_0` cache elements.
    public static let q8_0 = KVCacheType(.q8_0)
    /// `q4_0` cache elements.
    public static let q4_0 = KVCacheType(.q4_0)
    /// `q4_1` cache elements.
    public static let q4_1 = KVCacheType(.q4_1)
    /// `q5_0` cache elements.
    public static let q5_0 = KVCacheType(.q5_0)
    /// `q5_1` cache elements.
    public static let q5_1 = KVCacheType(.q5_1)
    /// `iq4_nl` cache elements.
    public static let iq4_nl = KVCacheType(.iq4_nl)

    /// The types llama.cpp accepts for the KV cache.
    public static let all: [KVCacheType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl]

    /// The cache type called `name` (`"q8_0"`, case-insensitive), or `nil`.
    public init?(name: String) {
        guard let match = Self.all.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = match
    }

    /// The lower-case name llama.cpp uses on its command line.
    public var name: String { ggmlType.name.lowercased() }

    public var description: String { name }

    /// Bytes of one cache row of `elements` values.
    ///
    /// - Returns: `nil` when `elements` is not a multiple of the type's block size (llama.cpp
    ///   refuses such a cache too).
    public func rowSize(_ elements: Int) -> Int? { ggmlType.rowSize(elements) }
}
