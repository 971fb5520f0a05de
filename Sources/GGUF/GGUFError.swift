/// Why a GGUF file could not be read, and where.
///
/// Every failure the reader can meet in a file, hostile or merely broken, ends here rather than
/// in a trap: the broker reads files it did not write, and one bad download must not take the
/// daemon down with it.
public struct GGUFError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is; tests and callers match on this, people read ``detail``.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case io, badMagic, byteSwapped, unsupportedVersion, truncated, implausibleCount
            case badValueType, nestedArray, badBool, badString, duplicateKey, badAlignment
            case badTensor, duplicateTensor, wrongType, missingKey, invalidOptions
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file could not be opened or read.
        public static let io = Code(.io)
        /// The first four bytes are not `GGUF`.
        public static let badMagic = Code(.badMagic)
        /// A big-endian (byte-swapped) file; only little-endian files are read.
        public static let byteSwapped = Code(.byteSwapped)
        /// Version 1 (32-bit counts) or a version newer than 3.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The file ends before the structure it announces.
        public static let truncated = Code(.truncated)
        /// A count or length larger than the file could possibly hold.
        public static let implausibleCount = Code(.implausibleCount)
        /// A metadata value type id outside the 13 the format defines.
        public static let badValueType = Code(.badValueType)
        /// An array whose elements are arrays.
        public static let nestedArray = Code(.nestedArray)
        /// A bool stored as a byte other than 0 or 1.
        public static let badBool = Code(.badBool)
        /// A string the reader refuses (a key that is empty or too long).
        public static let badString = Code(.badString)
        /// The same metadata key twice.
        public static let duplicateKey = Code(.duplicateKey)
        /// `general.alignment` is not a positive power of two (or not an integer).
        public static let badAlignment = Code(.badAlignment)
        /// A tensor info that cannot describe real data (dimensions, offset, size).
        public static let badTensor = Code(.badTensor)
        /// The same tensor name twice.
        public static let duplicateTensor = Code(.duplicateTensor)
        /// A metadata value of another type than the caller asked for.
        public static let wrongType = Code(.wrongType)
        /// A metadata key the caller needs is absent.
        public static let missingKey = Code(.missingKey)
        /// Estimate options the model cannot take (a context out of range, a KV cache type
        /// whose blocks do not divide the head width).
        public static let invalidOptions = Code(.invalidOptions)

        public var description: String { base.rawValue }
    }

    /// The kind of problem.
    public var code: Code
    /// The byte offset in the file where the offending item starts (`nil` when the problem is
    /// not tied to a place, such as a missing key).
    public var offset: Int?
    /// What went wrong, for people.
    public var detail: String

    /// An error of kind `code` at byte `offset` (or `nil`), with what went wrong.
    public init(_ code: Code, at offset: Int?, _ detail: String) {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        if let offset { return "GGUF \(code) at byte \(offset): \(detail)" }
        return "GGUF \(code): \(detail)"
    }
}
