import Foundation
import Testing
import VRAMPolicy

/// Model and device IDs behave as their names do as keys.
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

    @Test func aDeviceIDIsTheSameKeyAsAnyEqualName() throws {
        let composed = DeviceID("gpu-caf\u{E9}"), decomposed = DeviceID("gpu-cafe\u{301}")
        #expect(composed == decomposed && composed.hashValue == decomposed.hashValue)
        #expect([composed: 1][decomposed] == 1)
        #expect(DeviceID("gpu0") != DeviceID("gpu1") && DeviceID("gpu0") < DeviceID("gpu1"))
        let decoded = try JSONDecoder().decode([DeviceID].self, from: Data(#"["gpu0", "cpu"]"#.utf8))
        #expect(Set(decoded) == [DeviceID("gpu0"), "cpu"])
        #expect(String(decoding: try JSONEncoder().encode([DeviceID("gpu0")]), as: UTF8.self) == #"["gpu0"]"#)
    }
}
