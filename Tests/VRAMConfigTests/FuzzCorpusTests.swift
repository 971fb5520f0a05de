import Foundation
import Testing
import VRAMConfig

/// The short version of scripts/fuzz: every input in the committed corpora (including any
/// crasher a fuzz run found and someone committed with its fix) goes through the same checks
/// as the fuzz targets, on every test run.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(filePath: #filePath).deletingLastPathComponent()
        .appending(path: "../../Fuzz/corpus").standardized

    static func inputs(_ target: String) throws -> [(String, Data)] {
        let directory = corpus.appending(path: target)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { ($0, try Data(contentsOf: directory.appending(path: $0))) }
    }

    @Test func configCorpusParsesOrSaysWhereItIsWrong() throws {
        let inputs = try Self.inputs("config")
        #expect(inputs.count >= 5)
        var parsed = 0
        for (name, data) in inputs {
            do {
                let config = try Config.parse(yaml: String(decoding: data, as: UTF8.self), file: name)
                parsed += 1
                for model in config.models { #expect(config.model(named: model.id.rawValue)?.id == model.id) }
            } catch {
                #expect(!error.errors.isEmpty, "\(name)")
                #expect(error.errors.allSatisfy { $0.file == name }, "\(name): \(error)")
            }
        }
        // The examples in the corpus are valid configs; if none parse, the corpus is stale.
        #expect(parsed >= 2)
    }

    @Test func routingCorpusEndsInANameOrAFailure() throws {
        let inputs = try Self.inputs("routing")
        #expect(inputs.count >= 5)
        var named: [String] = []
        for (_, data) in inputs {
            guard let input = Self.decodeRoutingInput(data) else { continue }
            if let name = try? RequestModel.find(in: input.body, contentType: input.contentType) { named.append(name) }
        }
        #expect(named.contains("gemma"))
        #expect(named.contains("gpt-4o-mini"))
        #expect(named.contains("whisper"), "the multipart input")
    }

    /// How Fuzz/RoutingFuzz reads an input: the first byte picks the content type (none, JSON,
    /// or multipart with a boundary of up to 16 of the following bytes), the rest is the body.
    static func decodeRoutingInput(_ data: Data) -> (body: Data, contentType: String?)? {
        guard let selector = data.first else { return nil }
        var body = Data(data.dropFirst())
        switch selector % 3 {
        case 0: return (body, nil)
        case 1: return (body, "application/json")
        default:
            let boundaryLength = min(Int(selector / 3) % 17, body.count)
            let boundary = String(decoding: body.prefix(boundaryLength), as: UTF8.self)
            body = Data(body.dropFirst(boundaryLength))
            return (body, "multipart/form-data; boundary=\(boundary)")
        }
    }
}
