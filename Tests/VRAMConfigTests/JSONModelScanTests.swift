import Foundation
import Testing
import VRAMConfig
import VRAMPolicy

/// The scan must never disagree with `JSONSerialization`: where it answers, the answer is the
/// one `RequestModel.parseWhole` gives; everything else it must leave to that (`.unsure`). And it
/// must answer for the bodies clients really send, or it saves nothing.
@Suite struct JSONModelScanTests {
    static func scan(_ data: Data) -> JSONModelScan.Outcome { data.withUnsafeBytes(JSONModelScan.scan) }
    static func scan(_ text: String) -> JSONModelScan.Outcome { scan(Data(text.utf8)) }

    /// The scan's answer, checked against the reference where it gives one.
    static func agreed(_ data: Data, _ comment: Comment? = nil) -> JSONModelScan.Outcome {
        let outcome = scan(data)
        if outcome != .unsure { #expect(outcome == RequestModel.reference(data), comment) }
        return outcome
    }

    @Test func answersForTheBodiesClientsSend() {
        let chat = #"""
            {"model": "gemma", "messages": [{"role": "system", "content": "Be brief.\nUse \"quotes\" \u00e9 \ud83d\ude00"},
             {"role": "user", "content": "héllo 😀", "name": null}], "stream": true, "temperature": 0.7,
             "max_tokens": 256, "stop": ["\n\n"], "logit_bias": {"50256": -100}, "top_p": 1e-1, "n": 1}
            """#
        #expect(Self.agreed(Data(chat.utf8)) == .model("gemma"))
        #expect(Self.agreed(Data(#"{"input": "text", "voice": "alloy"}"#.utf8)) == .noModel)
        #expect(Self.agreed(Data(#"{}"#.utf8)) == .noModel)
        #expect(Self.agreed(Data(" \t\r\n{ \"model\" : \"gemma:270m\" } \n".utf8)) == .model("gemma:270m"))
        #expect(Self.agreed(Data(#"{"x": [[[], {}], {"a": [1, -0.5E+3, 0, true, false, null]}], "model": "m"}"#.utf8)) == .model("m"))
        // Only the top level counts: a nested "model" is some other field.
        #expect(Self.agreed(Data(#"{"tools": [{"model": "x"}], "meta": {"model": "y"}}"#.utf8)) == .noModel)
    }

    @Test func leavesWhatItIsNotSureOfToTheFullParse() {
        let unsure = [
            #"[1, 2]"#, #""gemma""#, "7", "",  // not an object: the full parse says which error
            #"{"model": 7}"#, #"{"model": null}"#,  // not a string
            #"{"model": "a", "model": "b"}"#,  // JSONSerialization keeps the last
            #"{"mod\u0065l": "b"}"#, #"{"model": "a\/b"}"#,  // escapes in the key or the name
            #"{"model": "a",}"#,  // a trailing comma, which JSONSerialization accepts
            #"{"model": "a", "x": 1e400}"#, #"{"model": "a", "x": 1.7976931348623159e308}"#,
            "{\"model\": \"a\", \"x\": " + String(repeating: "9", count: 400) + "}",
            #"{"model": "a", "x": "\ud800"}"#, #"{"model": "a", "x": "\udc00"}"#,
            "{\"model\": \"a\", \"x\": \"\t\"}",
            // The same inside long text, which is read eight bytes at a time.
            "{\"model\": \"a\", \"x\": \"abcdefghijklmno\tpqrstuvwxyz0123456789\"}",
            #"{"model": "a", "x": "abcdefghijklmno\xpqrstuvwxyz0123456789"}"#, "{\"model\": \"a\"}\0", "{\"model\": \"a\"} x", "{\"model\": \"a\"}{}",
            "{\"model\": \"a\"}\u{a0}", "{\"model\": \"a\", \"x\": 01}", "{\"model\": \"a\", \"x\": 1.}",
            "{\"model\": \"a\", \"x\": " + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
        ]
        for text in unsure { #expect(Self.agreed(Data(text.utf8), "\(text.prefix(60))") == .unsure, "\(text.prefix(60))") }
        let bytes: [[UInt8]] = [
            [0xEF, 0xBB, 0xBF] + Array(#"{"model": "a"}"#.utf8),  // a byte-order mark
            Array(#"{"model": "a", "x": ""#.utf8) + [0xFF] + Array(#""}"#.utf8),  // not UTF-8
            Array(#"{"model": "a", "x": "abcdefghijklmno"#.utf8) + [0xFF] + Array(#"pqrstuvwxyz0123456789"}"#.utf8),
            Array(#"{"x": ""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8),  // overlong
            Array(#"{"x": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),  // a surrogate in UTF-8
            Array(#"{"x": ""#.utf8) + [0xF4, 0x90, 0x80, 0x80] + Array(#""}"#.utf8),  // past U+10FFFF
        ]
        for body in bytes { #expect(Self.agreed(Data(body)) == .unsure, "\(body)") }
        #expect(Self.agreed(Data("{\"model\": \"a\", \"x\": \"\u{10FFFF}\u{FFFF}\"}".utf8)) == .model("a"))
        #expect(Self.agreed(Data(#"{"model": "a", "x": 1e-400}"#.utf8)) == .model("a"))
    }

    @Test func theRequestErrorsStayThoseOfTheFullParse() throws {
        for text in [#"{"model": "a", "x": [1, 2}"#, #"{"model": "#, #"{"model": "a" "x": 1}"#, "{\"model\": \"a\"}}"] {
            #expect(throws: RequestModel.Failure.notJSON, "\(text)") { try RequestModel.find(in: Data(text.utf8), contentType: nil) }
        }
        #expect(throws: RequestModel.Failure.modelNotAString) { try RequestModel.find(in: Data(#"{"model": ["a"]}"#.utf8), contentType: nil) }
        #expect(throws: RequestModel.Failure.notAnObject) { try RequestModel.find(in: Data("[]".utf8), contentType: nil) }
        #expect(try RequestModel.find(in: Data(#"{"model": "a", "model": "b"}"#.utf8), contentType: nil) == "b")
        #expect(try RequestModel.find(in: Data(#"{"model": "a\/b"}"#.utf8), contentType: nil) == "a/b")
    }

    /// Text is skipped sixteen bytes at a time, then eight, then one by one, up to the first byte
    /// that needs a look: one at every place in a block, a word and the last few bytes of the
    /// body is found, and read as the full parse reads it.
    @Test func findsTheFirstByteThatNeedsALookAtEveryPlace() {
        let answered = ["\\n", "\\u00e9", "é", "☕", "😀", "\\\"", "\\\\"]
        let refused = ["\t", "\u{1f}", "\\x", "\\u00g9"]
        for place in 0..<34 {
            let before = String(repeating: "a", count: place)
            // What follows decides whether the byte is met in a block, a word or alone.
            for afterCount in [0, 1, 5, 8, 13, 20] {
                let after = String(repeating: "b", count: afterCount)
                for text in answered + refused {
                    let body = #"{"model": "a", "x": ""# + before + text + after + #""}"#
                    let outcome = Self.agreed(Data(body.utf8), "\(body)")
                    #expect((outcome == .model("a")) == answered.contains(text), "\(body)")
                }
            }
        }
    }

    /// `\u` escapes are read four digits at once: every byte in every place of one, alone, in
    /// either half of a pair, and in a run of escapes (read one after another without looking
    /// for plain text), is read as the full parse reads it.
    @Test func readsEveryByteOfAUnicodeEscapeAsTheFullParseDoes() {
        let digits = Set("0123456789abcdefABCDEF".utf8)
        for (template, alone) in [(#"\u00e9"#, true), (#"\ud83d\ude00"#, false), (#"\u4f60\u597d\u00e9"#, false)] {
            let escape = Array(template.utf8)
            // Every digit of each `\u`: the first decides whether the unit may be a surrogate.
            for place in escape.indices where place % 6 >= 2 {
                for byte in UInt8.min...UInt8.max {
                    var changed = escape
                    changed[place] = byte
                    let body = Data(#"{"model": "a", "x": ""#.utf8 + changed + #"", "y": 1}"#.utf8)
                    let outcome = Self.agreed(body, "\(template) \(place) \(byte)")
                    // The scan answers whatever the full parse accepts here, not only agrees.
                    let accepted = alone ? digits.contains(byte) : RequestModel.reference(body) == .model("a")
                    #expect((outcome == .model("a")) == accepted, "\(place) \(byte)")
                }
            }
        }
    }

    /// Raw UTF-8 is read a scalar after another while it lasts: every lead byte with every second
    /// byte, every third and fourth of a long one, every ASCII byte between two scalars, and
    /// every scalar cut short by the string's end, met inside such a run, are read as the full
    /// parse reads them, and answered wherever it accepts them.
    @Test func readsRawUTF8AsTheFullParseDoes() {
        let run = Array("中文".utf8)
        func check(_ scalar: [UInt8]) {
            let body = Data(#"{"model": "a", "x": ""#.utf8 + run + scalar + run + #""}"#.utf8)
            let outcome = Self.agreed(body, "\(scalar)")
            #expect((outcome == .model("a")) == (RequestModel.reference(body) == .model("a")), "\(scalar)")
        }
        for lead in UInt8(0x80)...UInt8.max {
            let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            for second in UInt8.min...UInt8.max { check([lead, second] + Array(repeating: 0x80, count: length - 2)) }
            for cut in 1..<length {
                let body = Data(#"{"model": "a", "x": ""#.utf8 + run + [lead] + Array(repeating: 0x80, count: cut - 1) + #""}"#.utf8)
                #expect(Self.agreed(body, "\(lead) cut at \(cut)") == .unsure)
            }
        }
        // Between two scalars, every ASCII byte: a plain one is read on, any other ends the run.
        for byte in UInt8.min..<0x80 { check([byte]) }
        for byte in UInt8.min...UInt8.max {
            check([0xE4, 0xB8, byte])
            check([0xF0, 0x9F, byte, 0x80])
            check([0xF0, 0x9F, 0x98, byte])
        }
    }

    /// Two-byte scalars (Cyrillic, Greek, Arabic) are read four at a time: a lead or a second
    /// byte that is wrong at any of the four places, with room for a whole word after it or
    /// not, is read as the full parse reads it.
    @Test func readsEveryPlaceInAWordOfTwoByteScalarsAsTheFullParseDoes() {
        let letter: [UInt8] = Array("м".utf8)
        func check(_ pair: [UInt8], at place: Int, tail: Int) {
            let word = (0..<4).flatMap { $0 == place ? pair : letter }
            let text = letter + word + Array(repeating: letter, count: tail).flatMap { $0 }
            let body = Data(#"{"model": "a", "x": ""#.utf8 + text + #""}"#.utf8)
            let outcome = Self.agreed(body, "\(pair) at \(place), tail \(tail)")
            #expect((outcome == .model("a")) == (RequestModel.reference(body) == .model("a")), "\(pair) at \(place)")
        }
        for place in 0..<4 {
            for tail in [0, 4] {
                for lead in UInt8(0x80)...UInt8.max {
                    check([lead, 0x80], at: place, tail: tail)
                    check([lead, 0xBF], at: place, tail: tail)
                }
                for lead: UInt8 in [0xC0, 0xC1, 0xC2, 0xD0, 0xDF] {
                    for second in UInt8.min...UInt8.max { check([lead, second], at: place, tail: tail) }
                }
            }
        }
    }

    /// An escape cut short by the end of the body is refused wherever it is cut, including past
    /// the last whole word, where the scan reads the escape's digits in one go.
    @Test func refusesAnEscapeCutShortAnywhere() {
        let whole = Array(#"{"model": "a", "x": "\u00e9\ud83d\ude00\n"}"#.utf8)
        for length in 0..<whole.count {
            #expect(Self.agreed(Data(whole.prefix(length))) == .unsure, "\(length)")
        }
        #expect(Self.agreed(Data(whole)) == .model("a"))
    }

    /// Random documents, whole and then broken at random: the scan answers every whole one that
    /// names its model plainly, and never disagrees with the full parse on any.
    @Test(arguments: [1, 2, 3, 4])
    func agreesWithJSONSerializationOnRandomBodies(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var answered = 0, brokenAnswered = 0
        for _ in 0..<400 {
            let name = Self.randomString(&random, plain: true)
            let (document, hasModel) = Self.randomBody(&random, model: name)
            let outcome = Self.agreed(document)
            #expect(outcome == (hasModel ? .model(name) : .noModel), "\(String(decoding: document, as: UTF8.self))")
            if outcome != .unsure { answered += 1 }
            var broken = document
            switch random.next() % 3 {
            case 0: broken = broken.prefix(Int(random.next() % UInt64(broken.count)))
            case 1: broken[Int(random.next() % UInt64(broken.count))] = UInt8(truncatingIfNeeded: random.next())
            default: broken.insert(UInt8(truncatingIfNeeded: random.next()), at: Int(random.next() % UInt64(broken.count + 1)))
            }
            if Self.agreed(broken, "\(Array(broken))") != .unsure { brokenAnswered += 1 }
        }
        #expect(answered == 400)
        // Some breaks leave a valid body (a changed digit or letter); most do not.
        #expect(brokenAnswered > 0 && brokenAnswered < 300)
    }

    static func randomBody(_ random: inout SplitMix64, model: String) -> (Data, Bool) {
        var members = (0..<Int(random.next() % 6)).map { _ in
            "\(encode(randomString(&random, plain: true) + "_")):\(space(&random))\(randomValue(&random, depth: 0))"
        }
        let hasModel = random.next() % 4 != 0
        if hasModel { members.insert("\"model\":\(space(&random))\"\(model)\"", at: Int(random.next() % UInt64(members.count + 1))) }
        let body = space(&random) + "{" + members.map { space(&random) + $0 + space(&random) }.joined(separator: ",") + "}" + space(&random)
        return (Data(body.utf8), hasModel)
    }

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> String {
        switch random.next() % (depth < 4 ? 8 : 6) {
        case 0: return ["true", "false", "null"][Int(random.next() % 3)]
        case 1: return String(Int64(bitPattern: random.next()) >> Int(random.next() % 64))
        case 2: return ["0", "-0", "0.5", "-12.25e3", "1E-7", "3e+2", "1e-400", "123456789012345678901234567890"][Int(random.next() % 8)]
        case 3, 4, 5: return encode(randomString(&random, plain: false))
        case 6: return "[" + (0..<Int(random.next() % 4)).map { _ in space(&random) + randomValue(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{" + (0..<Int(random.next() % 4)).map { _ in
                encode(randomString(&random, plain: false)) + ":" + space(&random) + randomValue(&random, depth: depth + 1)
            }.joined(separator: ",") + "}"
        }
    }

    /// A plain one is a model name as configs have them; the others have anything in them.
    static func randomString(_ random: inout SplitMix64, plain: Bool) -> String {
        let plainScalars = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.:/".unicodeScalars)
        let anyScalars = plainScalars + Array("\"\\\n\t\u{0}\u{1f} é漢😀\u{FFFF}\u{10FFFF}".unicodeScalars)
        let pool = plain ? plainScalars : anyScalars
        var text = String.UnicodeScalarView()
        for _ in 0..<(1 + Int(random.next() % 12)) { text.append(pool[Int(random.next() % UInt64(pool.count))]) }
        return String(text)
    }

    /// As JSONEncoder would write it, with `\u` escapes for some characters at random.
    static func encode(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "😀": out += "\\ud83d\\ude00"
            case _ where scalar.value < 0x20 || scalar == "é": out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func space(_ random: inout SplitMix64) -> String {
        ["", "", " ", "\n  ", "\t", "\r\n"][Int(random.next() % 6)]
    }
}
