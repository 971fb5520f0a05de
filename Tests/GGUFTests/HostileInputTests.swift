import Testing
@testable import GGUF

/// Every way a file can lie, each answered by a `GGUFError` naming the problem and the byte
/// offset, never by a trap or an allocation the file merely asked for.
@Suite struct HostileInputTests {
    /// First byte after magic, version and the two counts.
    static let firstKey = 24

    @Test func rejectsBadMagic() throws {
        var file = GGUFBytes.file()
        file.bytes[0] = UInt8(ascii: "X")
        try expectRejected(file, .badMagic, at: 0)
    }

    @Test func namesByteSwappedFiles() throws {
        var file = GGUFBytes()
        file.raw("GGUF")
        file.u32(UInt32(3).byteSwapped)
        file.u64(UInt64(0).byteSwapped)
        file.u64(UInt64(0).byteSwapped)
        let error = try expectRejected(file, .byteSwapped, at: 4)
        #expect(error.detail.contains("big-endian"))
    }

    @Test(arguments: [UInt32(0), 1, 4, 77])
    func rejectsUnsupportedVersions(_ version: UInt32) throws {
        let error = try expectRejected(GGUFBytes.file(version: version), .unsupportedVersion, at: 4)
        if version == 1 { #expect(error.detail.contains("version 1")) }
    }

    @Test func readsVersionTwo() throws {
        let file = try GGUFFile(bytes: GGUFBytes.file(version: 2).bytes)
        #expect(file.version == 2)
    }

    @Test func everyTruncationThrowsInsteadOfTrapping() throws {
        let whole = GGUFBytes.file(metadata: [
            ("a.string", .string("text")), ("a.list", .list(.uint16, [.uint16(1), .uint16(2)])),
            ("a.strings", .list(.string, [.string("x"), .string("yz")])),
        ])
        #expect(readError(whole) == nil)
        for length in 0 ..< whole.count - 1 {
            let error = try #require(readError(GGUFBytes(bytes: Array(whole.bytes.prefix(length)))),
                                     "a file cut to \(length) bytes was accepted")
            #expect([.truncated, .implausibleCount, .badTensor].contains(error.code), "cut to \(length): \(error)")
            #expect((error.offset ?? 0) <= length)
        }
    }

    @Test func refusesKeyCountsTheFileCannotHold() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1 << 60)
        file.keyValue("a", .uint8(1))
        try expectRejected(file, .implausibleCount, at: 16)
    }

    @Test func refusesTensorCountsTheFileCannotHold() throws {
        var file = GGUFBytes()
        file.header(tensors: 1 << 60, keys: 0)
        file.tensor("t", [8], offset: 0)
        try expectRejected(file, .implausibleCount, at: 8)
    }

    @Test func refusesStringsPastTheEnd() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.u64(1000)
        file.raw("short")
        try expectRejected(file, .truncated, at: Self.firstKey + 8)
    }

    @Test func refusesHugeStringLengths() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.u64(1 << 62)
        file.u64(0)
        try expectRejected(file, .implausibleCount, at: Self.firstKey)
    }

    @Test func refusesUnknownValueTypes() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.string("key")
        file.u32(13)
        file.u32(0)
        try expectRejected(file, .badValueType, at: Self.firstKey + 8 + 3)
    }

    @Test func refusesNestedArrays() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.string("key")
        file.u32(GGUFValueType.array.rawValue)
        file.u32(GGUFValueType.array.rawValue)
        file.u64(0)
        try expectRejected(file, .nestedArray, at: Self.firstKey + 8 + 3 + 4)
    }

    @Test(arguments: [GGUFValueType.uint32, .string])
    func refusesArrayCountsTheFileCannotHold(_ element: GGUFValueType) throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.string("key")
        file.u32(GGUFValueType.array.rawValue)
        file.u32(element.rawValue)
        file.u64(1 << 60)
        file.u64(0)
        try expectRejected(file, .implausibleCount, at: Self.firstKey + 8 + 3 + 4 + 4)
    }

    @Test func refusesStringsInsideSkippedArraysThatRunPastTheEnd() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.string("key")
        file.u32(GGUFValueType.array.rawValue)
        file.u32(GGUFValueType.string.rawValue)
        file.u64(2)
        file.string("fine")
        file.u64(500)
        file.raw("cut")
        let start = Self.firstKey + 8 + 3 + 4 + 4 + 8
        do {
            _ = try GGUFFile(bytes: file.bytes, eagerArrayLimit: 0)
            Issue.record("accepted a string past the end")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.offset == start + 12 + 8)
        }
    }

    @Test func refusesBoolsOtherThanZeroOrOne() throws {
        var file = GGUFBytes()
        file.header(tensors: 0, keys: 1)
        file.string("flag")
        file.u32(GGUFValueType.bool.rawValue)
        file.u8(2)
        try expectRejected(file, .badBool, at: Self.firstKey + 8 + 4 + 4)
    }

    @Test(arguments: [GGUFValue.uint32(48), .uint32(0), .int32(-64), .string("32")])
    func refusesBadAlignment(_ alignment: GGUFValue) throws {
        let file = GGUFBytes.file(metadata: [("general.alignment", alignment)])
        try expectRejected(file, .badAlignment, at: Self.firstKey + 8 + "general.alignment".utf8.count + 4)
    }

    @Test func refusesDuplicateKeys() throws {
        let file = GGUFBytes.file(metadata: [("a", .uint8(1)), ("a", .uint8(2))])
        try expectRejected(file, .duplicateKey, at: Self.firstKey + 8 + 1 + 4 + 1)
    }

    @Test func refusesTooManyDimensions() throws {
        var file = GGUFBytes()
        file.header(tensors: 1, keys: 0)
        file.tensor("t", [1, 1, 1, 1, 1], offset: 0)
        file.data(64)
        try expectRejected(file, .badTensor, at: Self.firstKey + 8 + 1)
    }

    @Test func refusesElementCountsThatOverflow() throws {
        var file = GGUFBytes()
        file.header(tensors: 1, keys: 0)
        file.tensor("t", [1 << 40, 1 << 40], offset: 0)
        try expectRejected(file, .badTensor, at: Self.firstKey + 8 + 1 + 4 + 8)
    }

    @Test func refusesMisalignedTensorData() throws {
        var file = GGUFBytes()
        file.header(tensors: 1, keys: 0)
        file.tensor("t", [8], offset: 4)
        file.data(64)
        try expectRejected(file, .badTensor, at: Self.firstKey)
    }

    @Test func refusesTensorDataPastTheEnd() throws {
        var file = GGUFBytes()
        file.header(tensors: 1, keys: 0)
        file.tensor("t", [1024, 1024], offset: 0)
        file.data(64)
        let error = try expectRejected(file, .badTensor, at: Self.firstKey)
        #expect(error.detail.contains("past the end"))
    }

    @Test func refusesRowsThatDoNotFillBlocks() throws {
        var file = GGUFBytes()
        file.header(tensors: 1, keys: 0)
        file.tensor("t", [33, 2], type: GGMLType.q8_0.rawValue, offset: 0)
        file.data(128)
        let error = try expectRejected(file, .badTensor, at: Self.firstKey + 8 + 1)
        #expect(error.detail.contains("block size"))
    }

    @Test func refusesDuplicateTensors() throws {
        var file = GGUFBytes()
        file.header(tensors: 2, keys: 0)
        file.tensor("t", [8], offset: 0)
        let second = file.count
        file.tensor("t", [8], offset: 32)
        file.data(64)
        try expectRejected(file, .duplicateTensor, at: second)
    }

    @Test func keepsUnknownTensorTypes() throws {
        var file = GGUFBytes()
        file.header(tensors: 1, keys: 0)
        file.tensor("future", [64, 4], type: 200, offset: 0)
        file.data(32)
        let read = try GGUFFile(bytes: file.bytes)
        let tensor = try #require(read.tensors.first)
        #expect(!tensor.type.isKnown)
        #expect(tensor.type.name == "unknown(200)")
        #expect(tensor.byteCount == nil)
        #expect(throws: GGUFError.self) { try MemoryEstimator(file: read) }
    }

    @Test func missingFilesAreIOErrors() throws {
        #expect {
            try GGUFFile.open(path: "/nonexistent/model.gguf")
        } throws: { error in
            (error as? GGUFError)?.code == .io
        }
    }

    /// Expects the reader to refuse `bytes` with `code`, pointing at byte `offset`.
    @discardableResult
    func expectRejected(_ bytes: GGUFBytes, _ code: GGUFError.Code, at offset: Int,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> GGUFError {
        let error = try #require(readError(bytes), sourceLocation: sourceLocation)
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation)
        return error
    }
}
