import Foundation
import Testing

/// vramd as Ollama's own Python client sees it, with real llama.cpp servers behind it (the
/// scenarios are in `Scripts/ollama_e2e.py`).
struct OllamaEndToEndTests {
    struct Observed: Decodable {
        var failures: [String]
        var parameter_size: String?
        var cosine_similar: Double?
        var cosine_dissimilar: Double?
        var requests: Int?
        var vramd_exit: Int
    }

    @Test(.timeLimit(.minutes(5)))
    func ollamasClientUsesVramdAsItWouldOllama() throws {
        guard let env = ServeEndToEndTests.environment() else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/ollama_e2e.py").path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-ollama-\(UUID().uuidString)").path
        let result = try CommandRunner.run(executable: URL(fileURLWithPath: env.python),
                                           [script, CommandRunner.binary.path, env.server, env.model, work])
        let log = (try? String(contentsOfFile: work + "/vramd.log", encoding: .utf8)) ?? ""
        try #require(result.status == 0, "the script failed:\n\(result.stderr)\nvramd log:\n\(log.suffix(3000))")
        let seen = try JSONDecoder().decode(Observed.self, from: Data(result.stdout.utf8))
        #expect(seen.failures.isEmpty, "\(seen.failures.joined(separator: "\n"))")
        #expect(seen.parameter_size?.hasSuffix("M") == true)
        #expect((seen.cosine_similar ?? 0) > (seen.cosine_dissimilar ?? 1))
        #expect((seen.requests ?? 0) >= 8, "Ollama's routes go through the scheduler")
        #expect(seen.vramd_exit == 0)
    }
}
