#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What both of the direct path's own readers of HTTP/1.1 heads (``UpstreamResponseParser``
/// for a backend's answers, ``ClientRequestReader`` for a client's requests) read the same way:
/// where a head ends, its lines, a field line, a list value. They are strict in the same ways,
/// so that what either accepts llhttp reads alike.
enum HTTPHeadBytes {
    /// The length of the head at the start of `bytes`, its blank line included, once all of it
    /// is there; the search starts at `scanned`. With `allowEmpty`, a lone CRLF (no fields) is
    /// a whole section.
    static func end(_ bytes: UnsafeRawBufferPointer, from scanned: Int, allowEmpty: Bool = false) -> Int? {
        if allowEmpty, bytes.count >= 2, bytes[0] == 0x0D, bytes[1] == 0x0A { return 2 }
        var at = max(scanned, 3)
        while at < bytes.count, let found = bytes.firstLF(from: at) {
            if bytes[found - 1] == 0x0D, bytes[found - 2] == 0x0A, bytes[found - 3] == 0x0D { return found + 1 }
            at = found + 1
        }
        return nil
    }

    /// `name: value` of one line, the value without the whitespace around it; `nil` when the
    /// name is not a token (or has space before its colon) or the value holds a control
    /// character, or with `asciiOnly` a byte past ASCII.
    ///
    /// The checks are loops over the bytes: `allSatisfy` with a function for the test called it
    /// for every byte.
    static func field(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, asciiOnly: Bool = false) -> (name: Range<Int>, value: Range<Int>)? {
        guard let name = name(bytes, line) else { return nil }
        var start = name.upperBound + 1, end = line.upperBound
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        let limit: UInt8 = asciiOnly ? 0x7E : 0xFF
        var at = start
        while at < end {
            guard isFieldValueByte(bytes[at]), bytes[at] <= limit else { return nil }
            at += 1
        }
        return (name, start..<end)
    }

    /// The name of a field line, up to its colon; `nil` unless it is a token right before one.
    static func name(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> Range<Int>? {
        var at = line.lowerBound
        while at < line.upperBound, bytes[at] != 0x3A {
            guard isTokenByte(bytes[at]) else { return nil }
            at += 1
        }
        guard at < line.upperBound, at > line.lowerBound else { return nil }
        return line.lowerBound..<at
    }

    /// The elements of a comma-separated field value, without the whitespace around them and
    /// without empty ones.
    static func listElements(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) -> [Range<Int>] {
        var elements: [Range<Int>] = []
        var start = value.lowerBound
        for end in value.lowerBound...value.upperBound where end == value.upperBound || bytes[end] == UInt8(ascii: ",") {
            var low = start, high = end
            while low < high, bytes[low] == 0x20 || bytes[low] == 0x09 { low += 1 }
            while high > low, bytes[high - 1] == 0x20 || bytes[high - 1] == 0x09 { high -= 1 }
            if high > low { elements.append(low..<high) }
            start = end + 1
        }
        return elements
    }

    /// Whether `name` is one of `lowercaseNames`, in any ASCII case: a loop over the bytes, as
    /// the generic comparison of two collections cost several hundred instructions a name.
    static func isOne(of lowercaseNames: [[UInt8]], _ name: UnsafeRawBufferPointer) -> Bool {
        for candidate in lowercaseNames where candidate.count == name.count {
            let equal = candidate.withUnsafeBufferPointer { expected in
                for offset in 0..<name.count {
                    guard asciiLowercased(name[offset]) == expected[offset] else { return false }
                }
                return true
            }
            if equal { return true }
        }
        return false
    }

    /// Whether `range` holds a tab: llhttp and NIO trim only spaces around some values, so a
    /// field whose meaning depends on its exact value is left alone when it has one.
    static func holdsTab(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        for at in range where bytes[at] == 0x09 { return true }
        return false
    }

    /// Whether a length field's value is one llhttp reads as the same length: only digits
    /// (1 to 18 of them) and no tab on its line; `line` is from the colon on.
    static func length(_ bytes: UnsafeRawBufferPointer, value: Range<Int>, line: Range<Int>) -> Int? {
        guard (1...18).contains(value.count), !holdsTab(bytes, line) else { return nil }
        var length = 0
        for at in value {
            guard isDigit(bytes[at]) else { return nil }
            length = length * 10 + Int(bytes[at] - 0x30)
        }
        return length
    }
}

/// The lines of a head, each without its CRLF, as ranges of its bytes; a bare LF stays inside
/// a line, where the checks of its characters refuse it.
struct HeadLines {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func next() -> Range<Int>? {
        guard at < bytes.count else { return nil }
        var end = at + 1
        while end < bytes.count, let found = bytes.firstLF(from: end) {
            end = found
            if bytes[end - 1] == 0x0D { break }
            end += 1
        }
        if end < bytes.count, bytes[end] != 0x0A { end = bytes.count }
        let start = at
        guard end < bytes.count else {
            at = bytes.count
            return start..<bytes.count
        }
        at = end + 1
        return start..<(end - 1)
    }
}

extension UnsafeRawBufferPointer {
    /// The index of the first LF at or after `start` (which must be within the bytes), found by
    /// `memchr`: a loop over a head's bytes cost about 15 instructions a byte.
    func firstLF(from start: Int) -> Int? {
        guard let base = baseAddress, let found = memchr(base + start, 0x0A, count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }
}

func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

/// `byte` with an ASCII capital made small; every other byte as it is.
@inline(__always)
func asciiLowercased(_ byte: UInt8) -> UInt8 { byte &- 65 < 26 ? byte | 0x20 : byte }

/// RFC 9110's `tchar`: a bit test (bit n of the masks is byte n), which a switch over its
/// ranges and symbols compiled to about a dozen instructions a byte.
func isTokenByte(_ byte: UInt8) -> Bool {
    let low: UInt64 = 0x03FF_6CFA_0000_0000, high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    if byte < 64 { return (low >> UInt64(byte)) & 1 == 1 }
    if byte < 128 { return (high >> UInt64(byte - 64)) & 1 == 1 }
    return false
}

/// What a field value may hold: tab, visible ASCII, space and `obs-text`; never CR, LF or NUL.
func isFieldValueByte(_ byte: UInt8) -> Bool {
    byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
}

extension Slice<UnsafeRawBufferPointer> {
    /// ASCII case-insensitive equality with `lowercase`, which must be lowercase already.
    ///
    /// A loop over the bytes: the generic comparison of two collections cost about a thousand
    /// instructions a call.
    func equalsIgnoringCase(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        var at = startIndex, offset = 0
        while at < endIndex {
            guard asciiLowercased(base[at]) == expected[offset] else { return false }
            at += 1
            offset += 1
        }
        return true
    }

    func hasPrefixIgnoringCase(_ lowercase: StaticString) -> Bool {
        prefix(lowercase.utf8CodeUnitCount).equalsIgnoringCase(lowercase)
    }

    /// Byte for byte equality with `text`.
    func equals(_ text: StaticString) -> Bool {
        guard count == text.utf8CodeUnitCount else { return false }
        let expected = text.utf8Start
        var at = startIndex, offset = 0
        while at < endIndex {
            guard base[at] == expected[offset] else { return false }
            at += 1
            offset += 1
        }
        return true
    }
}
