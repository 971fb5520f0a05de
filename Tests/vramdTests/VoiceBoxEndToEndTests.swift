import Foundation
import Testing

/// The quickstart's box: speech-to-text, text-to-speech, chat and embeddings, all real models, on
/// one capacity that does not hold all four (the scenarios are in `Scripts/voice_box.py`).
struct VoiceBoxEndToEndTests {
    struct Observed: Decodable {
        var failures: [String]
        var transcribed: String?
        var evictions: [[String]]?
        var vramd_exit: Int
    }

    @Test(.timeLimit(.minutes(5)))
    func everyKindAnswersThroughTheOpenAIClient() throws {
        guard let env = ServeEndToEndTests.environment() else { return }
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let quickstart = scripts.appendingPathComponent("../../examples/quickstart.yaml").standardized.path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-voice-\(UUID().uuidString)").path
        let result = try CommandRunner.run(executable: URL(fileURLWithPath: env.python),
                                           [scripts.appendingPathComponent("Scripts/voice_box.py").path, CommandRunner.binary.path, quickstart, work])
        let log = (try? String(contentsOfFile: work + "/vramd.log", encoding: .utf8)) ?? ""
        try #require(result.status == 0, "the script failed:\n\(result.stderr)\nvramd log:\n\(log.suffix(3000))")
        let seen = try JSONDecoder().decode(Observed.self, from: Data(result.stdout.utf8))
        #expect(seen.failures.isEmpty, "\(seen.failures.joined(separator: "\n"))\nvramd log:\n\(log.suffix(2000))")
        #expect(seen.transcribed?.lowercased().contains("lazy dog") == true)
        #expect(seen.vramd_exit == 0)
    }
}
