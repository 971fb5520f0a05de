/// One strict pass over a JSON body that finds its top-level `"model"` string without building
/// the document.
///
/// Routing a request needs one field, but `JSONSerialization` builds every string and number of
/// the body first: about 0.44 ms for a 35 KB chat history, more than everything else vramd does
/// for a request. This scan checks the whole body against RFC 8259 (so a truncated or broken body
/// is still refused) and copies out only the model's name.
///
/// It answers only where it is sure `JSONSerialization` would answer the same. Anything unusual
/// (another top-level value, an escaped key or name, a second `"model"`, a number that might not
/// fit a `Double`, text that is not valid UTF-8, very deep nesting, or any error) is `.unsure`, and
/// ``RequestModel`` then asks `JSONSerialization` for the verdict and its error. The routing fuzz
/// target and `JSONModelScanTests` check the two against each other.
public enum JSONModelScan {
    public enum Outcome: Equatable, Sendable {
        case model(String)
        case noModel
        case unsure
    }

    /// Deeper than this is left to `JSONSerialization`, which refuses nesting past 512.
    static let maxDepth = 500

    public static func scan(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var scanner = Scanner(bytes.bindMemory(to: UInt8.self))
        return scanner.topLevelObject() ?? .unsure
    }
}

private let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), colon = UInt8(ascii: ":"), comma = UInt8(ascii: ",")
private let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}"), openBracket = UInt8(ascii: "["),
            closeBracket = UInt8(ascii: "]")

/// Each step returns `nil` for "not sure", which ends the scan.
private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var at = 0
    /// Open containers below the top-level object: true for an object, false for an array.
    var open: [Bool] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func topLevelObject() -> JSONModelScan.Outcome? {
        skipSpace()
        guard next() == openBrace else { return nil }
        var model: String?
        skipSpace()
        if peek() == closeBrace {
            at += 1
        } else {
            members: while true {
                guard let key = member() else { return nil }
                if key.contains(backslash) { return nil }  // it might spell "model" with escapes
                if Self.isModelKey(key) {
                    guard model == nil, peek() == quote, let name = string(), !name.contains(backslash) else { return nil }
                    model = String(decoding: name, as: UTF8.self)
                } else {
                    guard value() else { return nil }
                }
                skipSpace()
                switch next() {
                case comma: skipSpace()
                case closeBrace: break members
                default: return nil
                }
            }
        }
        skipSpace()
        guard at == bytes.count else { return nil }
        return model.map { .model($0) } ?? .noModel
    }

    /// Whether `key` is `model`, byte for byte: `elementsEqual` with a string's UTF-8 view cost
    /// about 200 instructions a key.
    private static func isModelKey(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        key.count == 5 && key[0] == UInt8(ascii: "m") && key[1] == UInt8(ascii: "o") && key[2] == UInt8(ascii: "d")
            && key[3] == UInt8(ascii: "e") && key[4] == UInt8(ascii: "l")
    }

    // MARK: Values below the top level

    /// One whole value, containers included, without recursion: a hostile body nests deeply.
    mutating func value() -> Bool {
        let base = open.count
        while true {
            switch peek() {
            case openBrace, openBracket:
                let isObject = next() == openBrace
                guard open.count - base < JSONModelScan.maxDepth else { return false }
                skipSpace()
                if peek() == (isObject ? closeBrace : closeBracket) {
                    at += 1
                } else {
                    open.append(isObject)
                    if isObject { guard member() != nil else { return false } }
                    continue
                }
            case quote:
                guard string() != nil else { return false }
            case UInt8(ascii: "t"): guard literal("true") else { return false }
            case UInt8(ascii: "f"): guard literal("false") else { return false }
            case UInt8(ascii: "n"): guard literal("null") else { return false }
            default:
                guard number() else { return false }
            }
            // A value has ended: close what it ends, until the next one starts.
            while true {
                guard open.count > base else { return true }
                skipSpace()
                let isObject = open[open.count - 1]
                switch next() {
                case comma:
                    skipSpace()
                    if isObject { guard member() != nil else { return false } }
                case isObject ? closeBrace : closeBracket:
                    open.removeLast()
                    continue
                default:
                    return false
                }
                break
            }
        }
    }

    /// A key and its colon, up to where its value starts; the key's bytes.
    mutating func member() -> UnsafeBufferPointer<UInt8>? {
        guard let key = string() else { return nil }
        skipSpace()
        guard next() == colon else { return nil }
        skipSpace()
        return key
    }

    // MARK: Tokens

    /// A string's bytes between its quotes, escapes still escaped; checked for valid escapes
    /// (surrogates paired) and valid UTF-8.
    mutating func string() -> UnsafeBufferPointer<UInt8>? {
        guard next() == quote else { return nil }
        let start = at
        let base = bytes.baseAddress!  // not nil: a quote was read
        let count = bytes.count
        // A local index: `at` lives in memory, and storing and reloading it at each step cost
        // more than the step.
        var index = at
        while true {
            index = Self.plainText(base, from: index, count: count)
            guard index < count else { return nil }
            let byte = base[index]
            if byte == quote {
                at = index + 1
                return UnsafeBufferPointer(start: base + start, count: index - start)
            } else if byte == backslash {
                // Escapes one after another are read here without looking for plain text
                // between them (about 20 instructions an escape): text escaped whole, as
                // Python's `json.dumps` escapes every scalar past ASCII by default, is nothing else.
                repeat {
                    // `\u` first, read in one go: nearly every escape is one in a body from a
                    // JSON library that escapes all non-ASCII text, as Python's does.
                    if index + 6 <= count, base[index + 1] == UInt8(ascii: "u") {
                        let digits = Self.escapeDigits(base, at: index)
                        guard Self.areHexDigits(digits) else { return nil }
                        index += 6
                        // A surrogate's first digit is a `d`: a unit with another needs no value.
                        guard digits & 0xFF | 0x20 == UInt8(ascii: "d") else { continue }
                        let unit = Self.hexValue(digits)
                        guard unit & 0xF800 == 0xD800 else { continue }  // not a surrogate
                        // A high surrogate, which needs a low one right after it.
                        guard unit < 0xDC00, index + 6 <= count, base[index] == backslash, base[index + 1] == UInt8(ascii: "u")
                        else { return nil }
                        let lowDigits = Self.escapeDigits(base, at: index)
                        guard Self.areHexDigits(lowDigits), Self.hexValue(lowDigits) & 0xFC00 == 0xDC00 else { return nil }
                        index += 6
                    } else {
                        guard index + 1 < count, Self.isShortEscape(base[index + 1]) else { return nil }
                        index += 2
                    }
                } while index < count && base[index] == backslash
            } else if byte < 0x20 {
                return nil
            } else if byte < 0x80 {
                index += 1
            } else {
                guard let end = Self.utf8Text(base, from: index, count: count) else { return nil }
                index = end
            }
        }
    }

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
                    guard word & 0x1E != 0 else { return nil }  // C0 and C1 are overlong
                    index &+= 2
                } else if word & 0x8080 == 0x8000, Self.isPlain(UInt8(truncatingIfNeeded: word)) {
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

    /// RFC 8259's grammar; a number whose size might overflow a `Double` is not sure, because
    /// `JSONSerialization` refuses those.
    mutating func number() -> Bool {
        if peek() == UInt8(ascii: "-") { at += 1 }
        let integerStart = at
        guard let first = peek(), isDigit(first) else { return false }
        at += 1
        if first != UInt8(ascii: "0") { _ = digits() }
        let integerDigits = at - integerStart
        if peek() == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { return false }
        }
        var exponent = 0
        if let byte = peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            at += 1
            var positive = true
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                positive = sign == UInt8(ascii: "+")
                at += 1
            }
            let start = at
            guard digits() > 0 else { return false }
            if positive {
                // More than three digits is past any Double already.
                guard at - start <= 3 else { return false }
                for index in start..<at { exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
            }
        }
        return integerDigits + exponent <= 300
    }

    mutating func digits() -> Int {
        let start = at
        while let byte = peek(), isDigit(byte) { at += 1 }
        return at - start
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard at + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[at + offset] != word.utf8Start[offset] { return false }
        at += count
        return true
    }

    // MARK: Bytes

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    func peek() -> UInt8? { at < bytes.count ? bytes[at] : nil }

    mutating func next() -> UInt8? {
        guard at < bytes.count else { return nil }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            default: return
            }
        }
    }
}
