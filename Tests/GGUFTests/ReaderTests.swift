import Foundation
import Testing
@testable import GGUF

@Suite struct ReaderTests {
    static let everyType: [(String, GGUFValue)] = [
        ("v.u8", .uint8(250)), ("v.i8", .int8(-7)), ("v.u16", .uint16(65000)), ("v.i16", .int16(-300)),
        ("v.u32", .uint32(4_000_000_000)), ("v.i32", .int32(-5)), ("v.f32", .float32(1.5)),
        ("v.bool", .bool(true)), ("v.string", .string("grüße")), ("v.u64", .uint64(1 << 50)),
        ("v.i64", .int64(-(1 << 50))), ("v.f64", .float64(-0.125)),
        ("v.array", .list(.int16, [.int16(1), .int16(-2)])),
    ]

    @Test func readsAllThirteenValueTypes() throws {
        let file = try GGUFFile(bytes: GGUFBytes.file(metadata: Self.everyType).bytes)
        #expect(file.keys == Self.everyType.map(\.0))
        for (key, value) in Self.everyType {
            if case .array(let want) = value {
                let array = try #require(file[key]?.arrayValue)
                #expect(array.elementType == want.elementType)
                #expect(array.values == want.values)
            } else {
                #expect(file[key] == value, "\(key)")
            }
        }
        #expect(Set(Self.everyType.map { $0.1.type }) == Set(GGUFValueType.allCases))
    }

    @Test func placesTensorDataAtTheAlignment() throws {
        for alignment in [1, 32, 64, 256] {
            let bytes = GGUFBytes.file(metadata: [("general.alignment", .uint32(UInt32(alignment)))], alignment: alignment)
            let file = try GGUFFile(bytes: bytes.bytes)
            #expect(file.alignment == alignment)
            #expect(file.dataOffset % alignment == 0)
            #expect(file.dataOffset + 64 == bytes.count)
        }
        #expect(try GGUFFile(bytes: GGUFBytes.file().bytes).alignment == 32)
    }

    @Test func largeArraysAreSkippedAndReadOnDemand() throws {
        let tokens = (0 ..< 300).map { GGUFValue.string("token\($0)") }
        let scores = (0 ..< 300).map { GGUFValue.float32(Float($0)) }
        let bytes = GGUFBytes.file(metadata: [("t.tokens", .list(.string, tokens)), ("t.scores", .list(.float32, scores)),
                                              ("t.after", .uint8(9))])
        let directory = try TestEnvironment.temporaryDirectory("lazy")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("lazy.gguf").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes.bytes)))

        for file in [try GGUFFile(bytes: bytes.bytes, eagerArrayLimit: 100), try GGUFFile.open(path: path, eagerArrayLimit: 100)] {
            let array = try #require(file["t.tokens"]?.arrayValue)
            #expect(array.values == nil)
            #expect(array.count == 300)
            #expect(try file.arrayValues("t.tokens") == tokens)
            #expect(try file.arrayValues("t.scores") == scores)
            #expect(try file.arrayValues("t.tokens", prefix: 3) == Array(tokens.prefix(3)))
            #expect(try file.arrayValues("t.tokens", prefix: 1000) == tokens)
            // Skipping must land exactly after the arrays.
            #expect(file["t.after"] == .uint8(9))
        }
    }

    @Test func typedAccessNamesTheKey() throws {
        let file = try GGUFFile(bytes: GGUFBytes.file(metadata: [
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(32)),
            ("llama.neg", .int32(-1)), ("llama.eps", .float32(0.5)),
        ]).bytes)
        #expect(file.architecture == "llama")
        #expect(file.arch("block_count") == "llama.block_count")
        #expect(try file.uint(file.arch("block_count")) == 32)
        #expect(try file.double("llama.eps") == 0.5)
        #expect(try file.double("llama.block_count") == 32)
        #expect(throws: GGUFError.self) { try file.uint("llama.neg") }
        do {
            _ = try file.uint("llama.missing")
            Issue.record("missing key read")
        } catch {
            #expect(error.code == .missingKey)
            #expect(error.detail.contains("llama.missing"))
        }
        do {
            _ = try file.string("llama.block_count")
            Issue.record("integer read as string")
        } catch {
            #expect(error.code == .wrongType)
            #expect(error.offset != nil)
        }
    }

    @Test func perLayerValuesAcceptScalarsAndArrays() throws {
        let file = try GGUFFile(bytes: GGUFBytes.file(metadata: [
            ("scalar", .uint32(4)), ("list", .list(.int32, [.int32(1), .int32(0), .int32(2)])),
            ("short", .list(.int32, [.int32(1)])), ("text", .string("x")),
        ]).bytes)
        #expect(try file.perLayerInts("scalar", layers: 3) == [4, 4, 4])
        #expect(try file.perLayerInts("list", layers: 3) == [1, 0, 2])
        #expect(try file.perLayerInts("absent", layers: 3) == nil)
        #expect(throws: GGUFError.self) { try file.perLayerInts("short", layers: 3) }
        #expect(throws: GGUFError.self) { try file.perLayerInts("text", layers: 3) }
    }

    @Test(arguments: [(GGUFValue?.none, [true, true, true, true]), (.uint32(2), [true, false, true, false]),
                      (.uint32(0), [true, true, true, true])])
    func slidingPatternsFollowLlamaCpp(_ pattern: GGUFValue?, _ sliding: [Bool]) throws {
        // gemma3 defaults to a period of 6, longer than this 4-layer model: every layer slides.
        var metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string("gemma3")), ("gemma3.block_count", .uint32(4)),
            ("gemma3.embedding_length", .uint32(64)), ("gemma3.attention.head_count", .uint32(2)),
            ("gemma3.attention.sliding_window", .uint32(128)),
        ]
        if let pattern { metadata.append(("gemma3.attention.sliding_window_pattern", pattern)) }
        let shape = try ModelShape(file: try GGUFFile(bytes: GGUFBytes.file(metadata: metadata).bytes))
        #expect(shape.slidingLayers == sliding)
    }

    @Test func rowSizesFollowGGMLBlocks() {
        #expect(GGMLType.f16.rowSize(640) == 1280)
        #expect(GGMLType.q8_0.rowSize(256) == 8 * 34)
        #expect(GGMLType.q4_K.rowSize(512) == 2 * 144)
        #expect(GGMLType.q4_K.rowSize(100) == nil)
        #expect(GGMLType(rawValue: 4).rowSize(32) == nil)
        #expect(GGMLType(name: "q6_k") == .q6_K)
    }

    @Test func tensorLayersComeFromTheirNames() {
        #expect(GGUFTensorInfo(name: "blk.12.attn_q.weight", dimensions: [1], type: .f32, offset: 0).layer == 12)
        #expect(GGUFTensorInfo(name: "token_embd.weight", dimensions: [1], type: .f32, offset: 0).layer == nil)
        #expect(GGUFTensorInfo(name: "blk.x.y", dimensions: [1], type: .f32, offset: 0).layer == nil)
    }
}
