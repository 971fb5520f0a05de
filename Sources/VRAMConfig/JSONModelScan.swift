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
            index = JSONStringBytes.plainText(base, from: index, count: count)
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
                        let digits = JSONStringBytes.escapeDigits(base, at: index)
                        guard JSONStringBytes.areHexDigits(digits) else { return nil }
                        index += 6
                        // A surrogate's first digit is a `d`: a unit with another needs no value.
                        guard digits & 0xFF | 0x20 == UInt8(ascii: "d") else { continue }
                        let unit = JSONStringBytes.hexValue(digits)
                        guard unit & 0xF800 == 0xD800 else { continue }  // not a surrogate
                        // A high surrogate, which needs a low one right after it.
                        guard unit < 0xDC00, index + 6 <= count, base[index] == backslash, base[index + 1] == UInt8(ascii: "u")
                        else { return nil }
                        let lowDigits = JSONStringBytes.escapeDigits(base, at: index)
                        guard JSONStringBytes.areHexDigits(lowDigits), JSONStringBytes.hexValue(lowDigits) & 0xFC00 == 0xDC00 else { return nil }
                        index += 6
                    } else {
                        guard index + 1 < count, JSONStringBytes.isShortEscape(base[index + 1]) else { return nil }
                        index += 2
                    }
                } while index < count && base[index] == backslash
            } else if byte < 0x20 {
                return nil
            } else if byte < 0x80 {
                index += 1
            } else {
                guard let end = JSONStringBytes.utf8Text(base, from: index, count: count) else { return nil }
                index = end
            }
        }
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
