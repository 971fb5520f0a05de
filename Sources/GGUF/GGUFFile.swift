/// A GGUF model file's header: metadata and tensor table, read without touching tensor data.
///
/// ```swift
/// let file = try GGUFFile.open(path: "gemma-3-270m-q4_k_m.gguf")
/// let layers = try file.int("gemma3.block_count")
/// ```
///
/// Arrays longer than the eager limit (a tokenizer vocabulary) are skipped while reading and
/// loaded on demand with ``arrayValues(_:)``.
public struct GGUFFile: Sendable {
    /// Arrays with at most this many elements are read with the header.
    ///
    /// Per-layer arrays (head counts, sliding-window flags) are well below it; vocabularies
    /// and merge lists are far above it.
    public static let defaultEagerArrayLimit = 4096

    /// GGUF version (2 or 3).
    public let version: Int
    /// Metadata in file order.
    public let metadata: [GGUFMetadataEntry]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data (`general.alignment`, 32 by default).
    public let alignment: Int
    /// Byte offset where tensor data starts.
    public let dataOffset: Int
    /// Size of the whole file in bytes.
    public let fileSize: Int

    let source: GGUFSource
    private let index: [String: Int]

    /// Reads the header of the GGUF file at `path`.
    ///
    /// - Throws: ``GGUFError`` describing what is wrong and where.
    public static func open(path: String, eagerArrayLimit: Int = defaultEagerArrayLimit) throws(GGUFError) -> GGUFFile {
        try GGUFFile(source: .file(path), eagerArrayLimit: eagerArrayLimit)
    }

    /// Reads a header from bytes in memory (the bytes must include the tensor data the
    /// header describes, or at least extend as far).
    public init(bytes: [UInt8], eagerArrayLimit: Int = defaultEagerArrayLimit) throws(GGUFError) {
        try self.init(source: .bytes(bytes), eagerArrayLimit: eagerArrayLimit)
    }

    init(source: GGUFSource, eagerArrayLimit: Int) throws(GGUFError) {
        let cursor = try ByteCursor(source)
        defer { cursor.close() }
        var parser = GGUFParser(cursor: cursor, eagerArrayLimit: eagerArrayLimit)
        let header = try parser.parseHeader()
        self.source = source
        version = header.version
        metadata = header.metadata
        tensors = header.tensors
        alignment = header.alignment
        dataOffset = header.dataOffset
        fileSize = header.fileSize
        index = Dictionary(header.metadata.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The value stored under `key`, if any.
    public subscript(key: String) -> GGUFValue? {
        index[key].map { metadata[$0].value }
    }

    /// Keys in file order.
    public var keys: [String] { metadata.map(\.key) }

    /// The tensor info named `name`, if any.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensors.first { $0.name == name }
    }

    /// The elements of the array under `key` (the first `prefix` of them, if given), reading
    /// them from the source if the header read skipped them.
    ///
    /// - Throws: ``GGUFError/Code-swift.struct/missingKey`` or ``GGUFError/Code-swift.struct/wrongType``
    ///   when there is no such array; I/O errors when the file changed since it was opened.
    public func arrayValues(_ key: String, prefix: Int? = nil) throws(GGUFError) -> [GGUFValue] {
        guard let value = self[key] else { throw GGUFError(.missingKey, at: nil, "no metadata key '\(key)'") }
        guard case .array(let array) = value else {
            throw GGUFError(.wrongType, at: nil, "'\(key)' is a \(value.type), not an array")
        }
        let count = min(array.count, max(0, prefix ?? array.count))
        if let values = array.values { return Array(values.prefix(count)) }
        let cursor = try ByteCursor(source, at: array.offset)
        defer { cursor.close() }
        var parser = GGUFParser(cursor: cursor, eagerArrayLimit: 0)
        return try parser.elements(array.elementType, count: count, key)
    }
}
