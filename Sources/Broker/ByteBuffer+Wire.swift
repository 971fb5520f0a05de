import NIOCore

/// The writes the direct path builds its heads and chunks from. Each is one copy through a
/// pointer: `writeStaticString` and `writeString` cost about 250 instructions a call whatever
/// they write, and a head is a dozen short parts.
extension ByteBuffer {
    /// `name: value` and its CRLF.
    mutating func writeField(_ name: String, _ value: String) {
        var name = name, value = value
        name.withUTF8 { name in value.withUTF8 { writeField(UnsafeRawBufferPointer(name), UnsafeRawBufferPointer($0)) } }
    }

    /// The same from bytes, e.g. a field as a backend sent it.
    mutating func writeField(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: name.count + value.count + 4) { buffer in
            var at = Self.copy(name, into: buffer, at: 0)
            buffer[at] = UInt8(ascii: ":")
            buffer[at + 1] = UInt8(ascii: " ")
            at = Self.copy(value, into: buffer, at: at + 2)
            buffer[at] = UInt8(ascii: "\r")
            buffer[at + 1] = UInt8(ascii: "\n")
            return at + 2
        }
    }

    mutating func writeASCII(_ text: StaticString) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: text.utf8CodeUnitCount) { buffer in
            Self.copy(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount), into: buffer, at: 0)
        }
    }

    mutating func writeText(_ text: String) {
        var text = text
        _ = text.withUTF8 { bytes in
            writeWithUnsafeMutableBytes(minimumWritableBytes: bytes.count) { Self.copy(UnsafeRawBufferPointer(bytes), into: $0, at: 0) }
        }
    }

    /// A non-negative number in decimal, without making a `String` of it.
    mutating func writeDecimal(_ value: Int) {
        precondition(value >= 0)
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { buffer in
            var rest = value
            for place in (0..<digits).reversed() {
                buffer[place] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            return digits
        }
    }

    /// Copies `bytes` into `buffer` at `index`; returns the index after them.
    private static func copy(_ bytes: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        UnsafeMutableRawBufferPointer(rebasing: buffer[index..<index + bytes.count]).copyMemory(from: bytes)
        return index + bytes.count
    }
}
