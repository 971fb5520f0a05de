import Foundation
import Testing
@testable import GGUF

/// Headers larger than the reader's 1 MiB window, read from files, where strings straddle
/// window boundaries: the path the gemma vocabulary takes.
@Suite struct LargeHeaderTests {
    static let tokens = (0 ..< 150_000).map { GGUFValue.string("token-\($0)-" + String(repeating: "x", count: $0 % 17)) }

    func writeFile() throws -> (String, URL) {
        var bytes = GGUFBytes()
        bytes.header(tensors: 1, keys: 3)
        bytes.keyValue("before", .uint32(7))
        bytes.keyValue("tokenizer.ggml.tokens", .list(.string, Self.tokens))
        bytes.keyValue("after", .string("end"))
        bytes.tensor("weights", [8], offset: 0)
        bytes.data(32)
        #expect(bytes.count > 2 * ByteCursor.chunkSize)
        let directory = try TestEnvironment.temporaryDirectory("large")
        let path = directory.appendingPathComponent("large.gguf").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes.bytes)))
        return (path, directory)
    }

    @Test func skippedVocabularyLandsOnTheNextKey() throws {
        let (path, directory) = try writeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try GGUFFile.open(path: path)
        #expect(file["tokenizer.ggml.tokens"]?.arrayValue?.values == nil)
        #expect(file["after"] == .string("end"))
        #expect(file.tensors.map(\.name) == ["weights"])
        #expect(try file.arrayValues("tokenizer.ggml.tokens") == Self.tokens)
    }

    @Test func eagerVocabularyReadsAcrossWindows() throws {
        let (path, directory) = try writeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try GGUFFile.open(path: path, eagerArrayLimit: .max)
        #expect(file["tokenizer.ggml.tokens"]?.arrayValue?.values == Self.tokens)
        #expect(file["after"] == .string("end"))
    }

    @Test func truncatedLargeFilesNameTheOffset() throws {
        let (path, directory) = try writeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Far enough in that the element count still looks plausible, so the walk hits the end.
        let cut = 2 * ByteCursor.chunkSize + 12_345
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.truncate(atOffset: UInt64(cut))
        try handle.close()
        do {
            _ = try GGUFFile.open(path: path)
            Issue.record("a truncated file was read")
        } catch {
            #expect(error.code == .truncated)
            #expect((error.offset ?? 0) <= cut)
            #expect((error.offset ?? 0) > cut - 64)
        }
    }
}
