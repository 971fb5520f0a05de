import Testing
@testable import GGUF

/// The gemma model the real-backend tests use, read as llama.cpp reads it.
@Suite(.enabled(if: TestEnvironment.canRun(TestEnvironment.model), "needs VRAMD_TEST_MODEL (scripts/test sets it)"))
struct GemmaHeaderTests {
    @Test func readsTheGemmaHeader() throws {
        let file = try GGUFFile.open(path: try TestEnvironment.require(TestEnvironment.model))
        // Facts about the published model (see /work/shared/FACTS.md).
        #expect(file.architecture == "gemma3")
        #expect(file.metadata.count == 33)
        #expect(file.tensors.count == 236)
        #expect(file["tokenizer.ggml.tokens"]?.arrayValue?.count == 262_144)
        #expect(file.quantization == "Q4_K_M")
        let data = try #require(file.tensorDataBytes)
        #expect(file.dataOffset + data <= file.fileSize)
        let shape = try ModelShape(file: file)
        #expect(shape.layers == 18)
        #expect(shape.slidingWindow == 512)
        #expect(shape.kvHeads == Array(repeating: 1, count: 18))
        // gemma3 without a pattern key: every sixth layer attends globally.
        #expect(shape.slidingLayers == (0 ..< 18).map { $0 % 6 != 5 })
    }
}
