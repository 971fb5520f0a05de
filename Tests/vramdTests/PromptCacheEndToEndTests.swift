import Foundation
import Testing

/// `prompt_cache: true` with real llama.cpp servers: a conversation's next turn after a swap
/// finds its prefix; without it, the prompt is read again (the scenarios are in
/// `Scripts/prompt_cache.py`).
struct PromptCacheEndToEndTests {
    struct Observed: Decodable {
        var failures: [String]
        var cached: [String: Double]?
        var uncached: [String: Double]?
    }

    @Test(.timeLimit(.minutes(5)))
    func aConversationKeepsItsPromptAcrossASwap() throws {
        guard let env = ServeEndToEndTests.environment() else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/prompt_cache.py").path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-prompt-cache-\(UUID().uuidString)").path
        let result = try CommandRunner.run(executable: URL(fileURLWithPath: env.python),
                                           [script, CommandRunner.binary.path, env.server, env.model, work])
        let log = (try? String(contentsOfFile: work + "/cached/vramd.log", encoding: .utf8)) ?? ""
        try #require(result.status == 0, "the script failed:\n\(result.stderr)\nvramd log:\n\(log.suffix(3000))")
        let seen = try JSONDecoder().decode(Observed.self, from: Data(result.stdout.utf8))
        #expect(seen.failures.isEmpty, "\(seen.failures.joined(separator: "\n"))")
        #expect((seen.cached?["prompt_n"] ?? .infinity) < (seen.uncached?["prompt_n"] ?? 0),
                "prompt tokens read after a swap: \(seen.cached ?? [:]) cached, \(seen.uncached ?? [:]) not")
    }
}
