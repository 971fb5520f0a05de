import Foundation

/// Where a GGUF file's bytes come from: a path, re-opened whenever something is read lazily,
/// or bytes already in memory (tests, the fuzzer, callers that fetched a header themselves).
enum GGUFSource: Sendable, Hashable {
    case file(String)
    case bytes([UInt8])
}

/// A forward reader over a GGUF source that holds at most one bounded window of the file.
///
/// The header of a real model is a few megabytes (mostly the vocabulary) in front of gigabytes
/// of tensor data; reading through a window keeps memory flat and never touches the data.
/// Every read checks the real end of the file first, so a length the file merely claims is
/// never allocated.
struct ByteCursor {
    /// Window size for file reads. Large enough that the gemma vocabulary takes a handful of
    /// reads, small enough to be irrelevant next to the model itself.
    static let chunkSize = 1 << 20

    private let handle: FileHandle?
    /// Total bytes in the source.
    let size: Int
    private var window: [UInt8]
    private var windowStart: Int
    /// Absolute offset of the next byte to read.
    private(set) var position: Int

    init(_ source: GGUFSource, at offset: Int = 0) throws(GGUFError) {
        switch source {
        case .bytes(let bytes):
            handle = nil
            size = bytes.count
            window = bytes
            windowStart = 0
        case .file(let path):
            do {
                let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                let end = try handle.seekToEnd()
                self.handle = handle
                size = Int(clamping: end)
            } catch {
                throw GGUFError(.io, at: nil, "cannot read \(path): \(error.localizedDescription)")
            }
            window = []
            windowStart = 0
        }
        position = offset
    }

    /// Releases the file handle; the cursor must not be used afterwards.
    func close() {
        try? handle?.close()
    }

    /// Bytes left between the current position and the end of the source.
    var remaining: Int { max(0, size - position) }

    /// Makes `count` bytes from the current position available in the window.
    private mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard count <= remaining else {
            throw GGUFError(.truncated, at: position,
                            "\(what()) needs \(count) bytes but the file ends at byte \(size)")
        }
        if position >= windowStart, position + count <= windowStart + window.count { return }
        guard let handle else {
            // Memory sources hold everything; the bound check above already passed.
            return
        }
        let length = min(max(count, Self.chunkSize), size - position)
        do {
            try handle.seek(toOffset: UInt64(position))
            let data = try handle.read(upToCount: length) ?? Data()
            guard data.count >= count else {
                throw GGUFError(.truncated, at: position, "\(what()): file shrank while reading")
            }
            window = [UInt8](data)
            windowStart = position
        } catch let error as GGUFError {
            throw error
        } catch {
            throw GGUFError(.io, at: position, "read failed: \(error.localizedDescription)")
        }
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        let width = MemoryLayout<T>.size
        try require(width, what())
        let index = position - windowStart
        position += width
        return window.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: index, as: T.self)) }
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 { try load(UInt8.self, what()) }
    mutating func u16(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt16 { try load(UInt16.self, what()) }
    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 { try load(UInt64.self, what()) }

    /// Reads `count` raw bytes.
    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> ArraySlice<UInt8> {
        try require(count, what())
        let index = position - windowStart
        position += count
        return window[window.startIndex + index ..< window.startIndex + index + count]
    }

    /// Moves past `count` length-prefixed strings, refusing any longer than `maxLength`.
    ///
    /// A vocabulary is a quarter of a million strings; walking their lengths inside the window
    /// without a call per string is what keeps a header read in milliseconds.
    mutating func skipStrings(_ count: Int, maxLength: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        var left = count
        while left > 0 {
            let windowEnd = windowStart + window.count
            var cursor = position
            var skipped = 0
            window.withUnsafeBytes { raw in
                while skipped < left, cursor >= windowStart, cursor + 8 <= windowEnd {
                    let length = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: cursor - windowStart, as: UInt64.self))
                    guard length <= UInt64(maxLength), cursor + 8 + Int(length) <= windowEnd else { break }
                    cursor += 8 + Int(length)
                    skipped += 1
                }
            }
            position = cursor
            left -= skipped
            guard left > 0 else { return }
            // One string the window does not hold (or a bad one): the checked path reads it,
            // refilling the window or throwing with the right offset.
            let offset = position
            let length = try u64("length of \(what())")
            guard length <= UInt64(maxLength) else {
                throw GGUFError(.implausibleCount, at: offset, "\(what()) claims \(length) bytes")
            }
            try skip(Int(length), what())
            left -= 1
        }
    }

    /// Moves past `count` bytes without reading them, after checking they exist.
    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard count >= 0, count <= remaining else {
            throw GGUFError(.truncated, at: position,
                            "\(what()) needs \(count) bytes but the file ends at byte \(size)")
        }
        position += count
    }
}
