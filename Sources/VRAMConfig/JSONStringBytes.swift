private let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

/// The byte-level tests inside a JSON string that ``JSONModelScan`` reads a word at a time:
/// plain text, escapes and multi-byte UTF-8. Each is exact (no false match) where the scan
/// relies on it; the bit tricks are explained where they are used.
enum JSONStringBytes {
    /// Where the first byte from `start` on is that needs a look (one that is not printable
    /// ASCII, or a quote or a backslash), or else where fewer than eight bytes are left, which
    /// the caller reads one by one.
    ///
    /// The bulk of a chat's text is plain ASCII, so this looks at sixteen bytes at a time, then
    /// eight.
    @inline(__always)
    static func plainText(_ base: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int {
        let raw = UnsafeRawPointer(base)
        var index = start
        while index &+ 16 <= count {
            let marks = unsafeBitCast(special(raw.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)),
                                      to: SIMD2<UInt64>.self)
            let low = UInt64(littleEndian: marks[0]), high = UInt64(littleEndian: marks[1])
            if low | high != 0 {
                return index &+ (low != 0 ? low.trailingZeroBitCount >> 3 : 8 &+ high.trailingZeroBitCount >> 3)
            }
            index &+= 16
        }
        if index &+ 8 <= count {
            let marks = special(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            if marks != 0 { return index &+ marks.trailingZeroBitCount >> 3 }
            index &+= 8
        }
        return index
    }

    /// The bytes of sixteen that are not printable ASCII other than a quote or a backslash, each
    /// marked by its high bit. Each lane is a byte on its own, so nothing carries between them
    /// and every mark is exact.
    @inline(__always)
    static func special(_ block: SIMD16<UInt8>) -> SIMD16<UInt8> {
        let quotes = block ^ 0x22, backslashes = block ^ 0x5C
        let control = (block &- 0x20) & ~block  // below 0x20
        // `x &- 1 & ~x` has its high bit set only where `x` is zero.
        return (block | control | (quotes &- 1) & ~quotes | (backslashes &- 1) & ~backslashes) & 0x80
    }

    /// The same for eight bytes in a word, the first in memory lowest.
    ///
    /// The classic SWAR byte tests can also mark a byte above one that truly matches (a borrow
    /// carries upward), never one below: so the lowest mark is always exact, which is the only
    /// one that is read.
    @inline(__always)
    static func special(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func zeroBytes(_ value: UInt64) -> UInt64 { (value &- ones) & ~value & highs }
        let control = (word &- ones &* 0x20) & ~word & highs  // a byte below 0x20
        return word & highs | control | zeroBytes(word ^ (ones &* 0x22)) | zeroBytes(word ^ (ones &* 0x5C))
    }

    /// Printable ASCII other than a quote or a backslash: a byte of a string that needs no look.
    @inline(__always)
    static func isPlain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x80 && byte != quote && byte != backslash
    }

    /// An escape other than `\u`, after its backslash.
    static func isShortEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case quote, backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
             UInt8(ascii: "r"), UInt8(ascii: "t"):
            return true
        default:
            return false
        }
    }

    /// The four bytes after the `\u` at `index`, as a word (the first in memory lowest); the
    /// caller has checked that they are there.
    @inline(__always)
    static func escapeDigits(_ base: UnsafePointer<UInt8>, at index: Int) -> UInt32 {
        UInt32(littleEndian: UnsafeRawPointer(base + index + 2).loadUnaligned(as: UInt32.self))
    }

    /// Whether the four bytes of a word are all hex digits.
    ///
    /// The four are tested together: no sum carries into the next byte, because every byte is
    /// below 0x80 by the first test.
    @inline(__always)
    static func areHexDigits(_ word: UInt32) -> Bool {
        let ones: UInt32 = 0x0101_0101, highs: UInt32 = 0x8080_8080
        guard word & highs == 0 else { return false }
        // A byte's high bit is set where it is at least `low` and below `high`.
        func within(_ bytes: UInt32, _ low: UInt32, _ high: UInt32) -> UInt32 {
            (bytes &+ ones &* (0x80 - low)) & ~(bytes &+ ones &* (0x80 - high)) & highs
        }
        return within(word, 0x30, 0x3A) | within(word | ones &* 0x20, 0x61, 0x67) == highs
    }

    /// The value of four hex digits in a word (the first in memory lowest), which
    /// ``areHexDigits(_:)`` has checked.
    static func hexValue(_ word: UInt32) -> UInt16 {
        // A digit's low four bits are its value; a letter's are its value less nine, and only a
        // letter has bit 6 set.
        let ones: UInt32 = 0x0101_0101
        let nibbles = (word & 0x0F0F_0F0F) &+ (word >> 6 & ones) &* 9
        return UInt16(truncatingIfNeeded: (nibbles & 0xFF) << 12 | (nibbles >> 8 & 0xFF) << 8
            | (nibbles >> 16 & 0xFF) << 4 | nibbles >> 24)
    }

    /// Where a run of multi-byte UTF-8 scalars from `start` ends, or `nil` if one is not valid:
    /// an overlong form, a surrogate, past U+10FFFF, or cut short.
    ///
    /// Text in other scripts comes as raw UTF-8 from most clients (JavaScript's `JSON.stringify`
    /// escapes none of it), so a chat can be scalars from end to end. Going back to look for
    /// plain text after each one cost about 90 instructions a scalar of Chinese text; this
    /// loop, about 27 read byte by byte, and about 17 a word at a time.
    static func utf8Text(_ base: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int? {
        var index = start
        while true {
            // Two- and three-byte scalars (most scripts but the oldest), a word at a time, and
            // the single space or comma between two words of them: byte by byte, a scalar cost
            // about 27 instructions, and each return to the search for plain text about 50 (a
            // chat in Russian cost twice one in Chinese). Anything else (a four-byte scalar, the
            // body's last bytes, a byte that is wrong, plain text going on) is read below.
            while index &+ 4 <= count {
                let word = UInt32(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt32.self))
                if word & 0x00C0_C0F0 == 0x0080_80E0 {  // 1110xxxx 10xxxxxx 10xxxxxx
                    if (0x2001 as UInt32) >> (word & 0x0F) & 1 != 0 {
                        // After E0 the second byte is A0 or above (below is overlong); after ED,
                        // 9F or below (above is a surrogate): its bit 5 tells.
                        guard (word & 0x0F == 0) == (word & 0x2000 != 0) else { return nil }
                    }
                    index &+= 3
                } else if word & 0xC0E0 == 0x80C0 {  // 110xxxxx 10xxxxxx
                    // Words of two-byte scalars (Cyrillic, Greek, Arabic, Hebrew) are read four
                    // scalars at a time while they last.
                    if index &+ 8 <= count {
                        let long = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                        if long & 0xC0E0_C0E0_C0E0_C0E0 == 0x80C0_80C0_80C0_80C0 {
                            // None of the four leads is C0 or C1 (overlong): no 16-bit lane of
                            // their value bits is zero. A lane borrows only from a zero one
                            // below it, so this is exact.
                            let values = long & 0x001E_001E_001E_001E
                            guard (values &- 0x0001_0001_0001_0001) & ~values & 0x8000_8000_8000_8000 == 0 else { return nil }
                            index &+= 8
                            continue
                        }
                    }
                    guard word & 0x1E != 0 else { return nil }  // C0 and C1 are overlong
                    index &+= 2
                } else if word & 0x8080 == 0x8000, isPlain(UInt8(truncatingIfNeeded: word)) {
                    index &+= 1  // plain ASCII, and text past ASCII right after it
                } else {
                    break
                }
            }
            guard index < count else { break }
            let lead = base[index]
            if lead < 0x80 {
                break
            } else if lead < 0xE0 {
                guard lead >= 0xC2, index + 1 < count, base[index + 1] & 0xC0 == 0x80 else { return nil }
                index += 2
            } else if lead < 0xF0 {
                guard index + 2 < count else { return nil }
                let second = base[index + 1]
                guard second & 0xC0 == 0x80, base[index + 2] & 0xC0 == 0x80 else { return nil }
                // Not overlong (E0 then below A0), not a surrogate (ED then above 9F).
                guard lead != 0xE0 || second >= 0xA0, lead != 0xED || second <= 0x9F else { return nil }
                index += 3
            } else {
                guard lead <= 0xF4, index + 3 < count else { return nil }
                let second = base[index + 1]
                guard second & 0xC0 == 0x80, base[index + 2] & 0xC0 == 0x80, base[index + 3] & 0xC0 == 0x80
                else { return nil }
                // Not overlong (F0 then below 90), not past U+10FFFF (F4 then above 8F).
                guard lead != 0xF0 || second >= 0x90, lead != 0xF4 || second <= 0x8F else { return nil }
                index += 4
            }
        }
        return index
    }
}
