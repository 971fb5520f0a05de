import Testing
@testable import VRAMPolicy

/// The scenarios of seeds 000 and 001 (llmux), with one deliberate difference (rule 5).
@Suite struct SeedScenarioTests {
    @Test func loadIntoEmptyDevice() throws {
        var s = Scenario(models: seedCast)
        try s.load("qwen3.5-4b")
        #expect(s.isLoaded("qwen3.5-4b"))
        #expect(s.free() == 12 * GB)
    }

    @Test func loadAlongsideWhenItFits() throws {
        var s = Scenario(models: seedCast)
        try s.load("cohere-transcribe")
        #expect(try s.load("qwen3.5-4b") == [])
        #expect(s.isLoaded("cohere-transcribe") && s.isLoaded("qwen3.5-4b"))
        #expect(s.free() == 8 * GB)
    }

    @Test func evictsTheLLMFirst() throws {
        var s = Scenario(models: seedCast)
        for m: ModelID in ["cohere-transcribe", "chatterbox-multilingual", "qwen3.5-4b"] { try s.load(m) }
        #expect(try s.load("qwen3.5-9b-fp8") == ["qwen3.5-4b"])
        #expect(s.isLoaded("cohere-transcribe") && s.isLoaded("chatterbox-multilingual"))
        #expect(s.free() == 1 * GB)
    }

    @Test func cascadeKeepsASRWhenItCan() throws {
        var s = Scenario(models: seedCast)
        for m: ModelID in ["cohere-transcribe", "chatterbox-multilingual", "qwen3.5-4b"] { try s.load(m) }
        let victims = try s.load("large-llm")
        #expect(victims == ["qwen3.5-4b", "chatterbox-multilingual"])
        #expect(s.isLoaded("cohere-transcribe"))
    }

    /// llmux evicts LLM, TTS and ASR for the 13 GB model. Evicting LLM and ASR already frees
    /// 6 + 4 + 4 = 14 GB, so rule 5 (minimal victim set) keeps TTS resident.
    @Test func cascadeForHugeLLMKeepsTTSByMinimality() throws {
        var s = Scenario(models: seedCast)
        for m: ModelID in ["cohere-transcribe", "chatterbox-multilingual", "qwen3.5-4b"] { try s.load(m) }
        let plan = try #require(s.plan("gpt-oss-20b").loadPlan)
        #expect(plan.evictions.map(\.model) == ["qwen3.5-4b", "cohere-transcribe"])
        #expect(plan.evictions.map(\.reason) == [.lowerOrSameTier, .upwardLastResort])
        #expect(plan.freeBefore == 6 * GB)
        #expect(plan.freeAfter == 1 * GB)
        try s.load("gpt-oss-20b")
        #expect(s.isLoaded("chatterbox-multilingual"))
        #expect(!s.isLoaded("cohere-transcribe"))
    }

    @Test func ttsDoesNotEvictASR() throws {
        var s = Scenario(models: seedCast)
        for m: ModelID in ["cohere-transcribe", "qwen3.5-9b-fp8"] { try s.load(m) }
        #expect(try s.load("chatterbox") == [])
        // 15 GB used; the new TTS needs 2 GB. The lowest tier (the LLM) goes, never ASR.
        #expect(try s.load("chatterbox-ml") == ["qwen3.5-9b-fp8"])
        #expect(s.isLoaded("cohere-transcribe") && s.isLoaded("chatterbox-ml") && s.isLoaded("chatterbox"))
    }

    @Test func asrEvictsTheLLM() throws {
        var s = Scenario(models: seedCast)
        try s.load("gpt-oss-20b")
        #expect(try s.load("cohere-transcribe") == ["gpt-oss-20b"])
    }

    @Test func alreadyResidentIsNoOp() throws {
        var s = Scenario(models: seedCast)
        try s.load("qwen3.5-4b")
        #expect(s.plan("qwen3.5-4b") == .resident(model: "qwen3.5-4b", device: "gpu0"))
    }

    @Test func residentsListsLoadedModels() throws {
        var s = Scenario(models: seedCast)
        try s.load("cohere-transcribe")
        try s.load("qwen3.5-4b")
        #expect(Set(s.ledger.residents.map(\.id)) == ["cohere-transcribe", "qwen3.5-4b"])
    }
}
