import Testing
@testable import GGUF

/// The estimator's sizing rules on fixtures whose shapes are known, each expectation worked
/// out from the rule it checks rather than copied from an output.
@Suite(.enabled(if: TestEnvironment.canRun(TestEnvironment.python), "needs VRAMD_PYTHON with gguf (scripts/test sets it)"))
struct MemoryEstimatorTests {
    func estimator(_ name: String) throws -> MemoryEstimator {
        try MemoryEstimator(file: try GGUFFile.open(path: try Fixtures.path(name)))
    }

    func bytes(_ file: GGUFFile, where include: (GGUFTensorInfo) -> Bool) -> Int64 {
        file.tensors.filter(include).reduce(0) { $0 + Int64($1.byteCount ?? 0) }
    }

    @Test func kvCacheFollowsPerLayerHeadCounts() throws {
        let estimator = try estimator("llama-gqa")
        // embedding 256 / 8 heads: 32 wide; KV heads 8, 2, 0 (no cache), 4; 1000 → 1024 cells.
        #expect(estimator.shape.kvHeads == [8, 2, 0, 4])
        #expect(estimator.shape.keyLength == [32, 32, 32, 32])
        let f16 = try estimator.estimate(EstimateOptions(context: 1000))
        #expect(f16.context == 1024)
        let heads: Int64 = 8 + 2 + 4
        let f16Row: Int64 = 32 * 2
        #expect(f16.kvCache == heads * f16Row * 2 * 1024)
        let q8 = try estimator.estimate(EstimateOptions(context: 1000, typeK: .q8_0, typeV: .q8_0))
        let q8Row: Int64 = 34 // one Q8_0 block holds the 32 values of a head
        #expect(q8.kvCache == heads * q8Row * 2 * 1024)
        let mixed = try estimator.estimate(EstimateOptions(context: 1000, typeK: .q8_0, typeV: .q4_0))
        let q4Row: Int64 = 18
        #expect(mixed.kvCache == heads * (q8Row + q4Row) * 1024)
    }

    @Test func withoutFlashAttentionVIsPaddedToTheWidestLayer() throws {
        let estimator = try estimator("llama-gqa")
        let estimate = try estimator.estimate(EstimateOptions(context: 1024, flashAttention: false))
        // K per layer as before; V rows all 8 × 32 wide in the three layers with a cache.
        let kBytes: Int64 = (8 + 2 + 4) * 32 * 2
        let vBytes: Int64 = 3 * 8 * 32 * 2
        #expect(estimate.kvCache == (kBytes + vBytes) * 1024)
    }

    @Test func slidingLayersGetTheWindowPlusOneBatch() throws {
        let estimator = try estimator("sliding")
        #expect(estimator.shape.slidingLayers == [true, false, true, false])
        let row: Int64 = 64 * 1 * 2 // key_length 64 × 1 KV head, f16
        let single = try estimator.estimate(EstimateOptions(context: 8192))
        let window: Int64 = (128 + 512 + 255) / 256 * 256
        #expect(single.kvCache == 2 * row * 2 * window + 2 * row * 2 * 8192)
        // Unified: the window is per sequence; split: one window per stream.
        let unified = try estimator.estimate(EstimateOptions(context: 8192, parallel: 3))
        let unifiedWindow: Int64 = (128 * 3 + 512 + 255) / 256 * 256
        #expect(unified.kvCache == 2 * row * 2 * unifiedWindow + 2 * row * 2 * 8192)
        let split = try estimator.estimate(EstimateOptions(context: 8192, parallel: 3, unifiedKV: false))
        let perStream: Int64 = (8192 / 3 + 255) / 256 * 256
        #expect(split.context == Int(perStream * 3))
        #expect(split.kvCache == 3 * (2 * row * 2 * window + 2 * row * 2 * perStream))
        // A context below the window leaves nothing to save.
        let small = try estimator.estimate(EstimateOptions(context: 300))
        #expect(small.kvCache == 4 * row * 2 * 512)
    }

    /// `--swa-full` (which a restored prompt cache needs): every layer gets the whole context.
    @Test func swaFullGivesSlidingLayersTheWholeContext() throws {
        let estimator = try estimator("sliding")
        let row: Int64 = 64 * 1 * 2
        var options = EstimateOptions(context: 8192)
        options.swaFull = true
        let full = try estimator.estimate(options)
        #expect(full.kvCache == 4 * row * 2 * 8192)
        #expect(full.kvCache > (try estimator.estimate(EstimateOptions(context: 8192))).kvCache)
    }

    @Test func tiedOutputIsCountedAgainOnTheDevice() throws {
        let estimator = try estimator("llama-gqa")
        let file = estimator.file
        let embedding = bytes(file) { $0.name == "token_embd.weight" }
        let blocks = bytes(file) { $0.layer != nil }
        let output = bytes(file) { $0.layer == nil && $0.name != "token_embd.weight" }
        let all = try estimator.estimate(EstimateOptions(context: 512))
        #expect(all.weightsHost == embedding)
        #expect(all.weightsDevice == blocks + output + embedding)
        let none = try estimator.estimate(EstimateOptions(context: 512, gpuLayers: 0))
        #expect(none.weightsDevice == 0)
        #expect(none.kvCacheDevice == 0)
        #expect(none.weightsHost == embedding + blocks + output)
        #expect(none.deviceTotal == none.computeBuffer)
    }

    @Test func partialOffloadTakesTheLastLayersAndTheOutput() throws {
        let estimator = try estimator("llama-gqa")
        let file = estimator.file
        let embedding = bytes(file) { $0.name == "token_embd.weight" }
        let output = bytes(file) { $0.layer == nil && $0.name != "token_embd.weight" }
        // --n-gpu-layers 2 on 4 blocks: the output layer and block 3.
        let partial = try estimator.estimate(EstimateOptions(context: 512, gpuLayers: 2))
        #expect(partial.weightsDevice == bytes(file) { $0.layer == 3 } + output + embedding)
        #expect(partial.weightsHost == embedding + bytes(file) { [0, 1, 2].contains($0.layer) })
        let kvLayer3: Int64 = 4 * 32 * 2 * 2 * 512
        #expect(partial.kvCacheDevice == kvLayer3)
        #expect(partial.deviceTotal == partial.weightsDevice + kvLayer3 + partial.computeBuffer)
    }

    @Test func expertsCountAsLayerWeightsAndUntiedOutputOnce() throws {
        let estimator = try estimator("moe")
        #expect(estimator.shape.expertCount == 8)
        #expect(estimator.shape.expertUsedCount == 2)
        let file = estimator.file
        let estimate = try estimator.estimate(EstimateOptions(context: 512))
        #expect(estimate.weightsHost == bytes(file) { $0.name == "token_embd.weight" })
        #expect(estimate.weightsDevice == bytes(file) { $0.name != "token_embd.weight" })
        #expect(bytes(file) { $0.name.contains("_exps") } > 0)
        #expect(estimate.hostBuffers == 1000 * 4)
    }

    @Test func computeBufferGrowsWithContextAndMoreWithoutFlashAttention() throws {
        let estimator = try estimator("llama-gqa")
        let short = try estimator.estimate(EstimateOptions(context: 1024)).computeBuffer
        let long = try estimator.estimate(EstimateOptions(context: 4096)).computeBuffer
        let longNoFA = try estimator.estimate(EstimateOptions(context: 4096, flashAttention: false)).computeBuffer
        #expect(short < long)
        #expect(long < longNoFA)
        // Going from 1024 to 4096 cells adds exactly the f16 mask rows for 512 tokens.
        let maskGrowth: Int64 = 3072 * 512 * 2
        #expect(long - short == maskGrowth)
    }

    @Test func fitFindsTheLargestContextThatFits() throws {
        let estimator = try estimator("sliding")
        let base = EstimateOptions(context: 0)
        let at4096 = try estimator.estimate(EstimateOptions(context: 4096))
        let fitted = try #require(try estimator.fit(budget: at4096.deviceTotal, options: base))
        #expect(fitted.context == 4096)
        let justBelow = try #require(try estimator.fit(budget: at4096.deviceTotal - 1, options: base))
        #expect(justBelow.context == 4096 - 256)
        #expect(justBelow.deviceTotal <= at4096.deviceTotal - 1)
        let huge = try #require(try estimator.fit(budget: 1 << 40, options: base))
        #expect(huge.context == estimator.shape.trainingContext)
        let floor = try estimator.estimate(EstimateOptions(context: 512))
        #expect(try estimator.fit(budget: floor.deviceTotal - 1, options: base) == nil)
    }

    @Test func rejectsNonsenseOptions() throws {
        let estimator = try estimator("llama-gqa")
        for options in [EstimateOptions(context: 0), EstimateOptions(context: 512, parallel: 0),
                        EstimateOptions(context: 1 << 40), EstimateOptions(context: 512, ubatch: -1)] {
            #expect { try estimator.estimate(options) } throws: { ($0 as? GGUFError)?.code == .invalidOptions }
        }
        // Q8_0 blocks hold 32 values: a 48-wide K row (3 heads of 16) cannot be cut into them.
        let narrow = try MemoryEstimator(file: try GGUFFile(bytes: GGUFBytes.file(metadata: [
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(1)),
            ("llama.embedding_length", .uint32(48)), ("llama.attention.head_count", .uint32(3)),
        ]).bytes))
        #expect { try narrow.estimate(EstimateOptions(context: 512, typeK: .q8_0)) } throws: {
            ($0 as? GGUFError)?.code == .invalidOptions
        }
        #expect(try narrow.estimate(EstimateOptions(context: 512)).kvCache == 2 * 48 * 2 * 512)
    }

    @Test func cacheTypesByName() {
        #expect(KVCacheType(name: "Q8_0") == .q8_0)
        #expect(KVCacheType(name: "iq4_nl")?.name == "iq4_nl")
        #expect(KVCacheType(name: "q4_k") == nil)
        #expect(KVCacheType.all.allSatisfy { KVCacheType(name: $0.name) == $0 })
    }
}
