import Foundation
import Testing
import VRAMPolicy

/// A model's ID keeps its name's hash; it must still behave as the name does as a key.
struct IdentifierTests {
    @Test func aModelIDIsTheSameKeyAsAnyEqualName() throws {
        // Equal as Swift compares strings (canonically equivalent), different as bytes.
        let composed = ModelID("caf\u{E9}"), decomposed = ModelID("cafe\u{301}")
        #expect(composed == decomposed)
        #expect(Set([composed, decomposed, ModelID(String("caf\u{E9}"))]).count == 1)
        #expect([composed: 1][decomposed] == 1)
        #expect(ModelID("a") != ModelID("b") && ModelID("a") < ModelID("b"))
        // Decoded and literal IDs are the same keys as made ones.
        let decoded = try JSONDecoder().decode([ModelID].self, from: Data(#"["llm", "tts"]"#.utf8))
        let literal: ModelID = "llm"
        #expect(Set(decoded).contains(literal) && Set(decoded).contains(ModelID("tts")))
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"["llm","tts"]"#)
    }
}
