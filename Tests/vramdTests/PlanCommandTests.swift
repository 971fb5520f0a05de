import Foundation
import Testing
import VRAMConfig

/// The seed scenarios and the new rules again, through `vramd plan --json` as people run it.
@Suite struct PlanCommandTests {
    static let config = """
        policy: {upward_eviction: last_resort, min_residency: 5s}
        devices:
          - {id: gpu0, kind: simulated, capacity: 16GiB, cushion: 0B}
          - {id: gpu1, kind: simulated, capacity: 8GiB, cushion: 0B}
        models:
          asr: {kind: stt, memory: 4GiB, device: gpu0}
          tts: {kind: tts, memory: 2GiB, device: gpu0}
          tts-ml: {kind: tts, memory: 2GiB, device: gpu0}
          llm-4b: {kind: llm, memory: 4GiB, device: gpu0}
          llm-9b: {kind: llm, memory: 9GiB, device: gpu0}
          llm-12b: {kind: llm, memory: 12GiB, device: gpu0}
          llm-13b: {kind: llm, memory: 13GiB, device: gpu0}
          llm-20b: {kind: llm, memory: 20GiB, device: gpu0}
          flux: {kind: image, memory: 3GiB, exclusive_group: diffusion, device: gpu1}
          sdxl: {kind: image, memory: 3GiB, exclusive_group: diffusion, device: gpu1}
          anywhere: {kind: llm, memory: 5GiB}
        """

    static func plan(_ arguments: [String]) throws -> (PlanReport, Int32) {
        let path = try CommandRunner.temporaryFile(config)
        let result = try CommandRunner.run(["plan", "--config", path, "--json"] + arguments)
        let report = try JSONDecoder().decode(PlanReport.self, from: Data(result.stdout.utf8))
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        return (report, result.status)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var decision: String
        var evict: [String] = []
        var device: String? = "gpu0"
        var status: Int32
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "seed: evict the LLM first", arguments: ["--resident", "asr,tts,llm-4b", "--load", "llm-9b"],
             decision: "load", evict: ["llm-4b"], status: 0),
        Case(name: "seed: cascade keeps ASR", arguments: ["--resident", "asr,tts,llm-4b", "--load", "llm-12b"],
             decision: "load", evict: ["llm-4b", "tts"], status: 0),
        Case(name: "seed: 13 GB keeps TTS (rule 5)", arguments: ["--resident", "asr,tts,llm-4b", "--load", "llm-13b"],
             decision: "load", evict: ["llm-4b", "asr"], status: 0),
        Case(name: "seed: TTS never evicts ASR", arguments: ["--resident", "asr,llm-9b,tts", "--load", "tts-ml"],
             decision: "load", evict: ["llm-9b"], status: 0),
        Case(name: "seed: ASR evicts the LLM", arguments: ["--resident", "llm-13b", "--load", "asr"],
             decision: "load", evict: ["llm-13b"], status: 0),
        Case(name: "already resident", arguments: ["--resident", "asr", "--load", "asr"], decision: "resident", status: 0),
        Case(name: "busy lower tier: wait", arguments: ["--resident", "asr,tts,llm-9b", "--busy", "llm-9b", "--load", "llm-4b"],
             decision: "wait", status: 3),
        Case(name: "just loaded: wait", arguments: ["--resident", "llm-9b,tts", "--loaded-ago", "llm-9b=1s", "--contended", "llm-9b", "--load", "llm-12b"],
             decision: "wait", status: 3),
        Case(name: "just loaded, nobody else wants it: load", arguments: ["--resident", "llm-9b,tts", "--loaded-ago", "llm-9b=1s", "--load", "llm-12b"],
             decision: "load", evict: ["llm-9b"], status: 0),
        Case(name: "outside min residency: load", arguments: ["--resident", "llm-9b,tts", "--loaded-ago", "llm-9b=6s", "--load", "llm-12b"],
             decision: "load", evict: ["llm-9b"], status: 0),
        Case(name: "exclusive group", arguments: ["--resident", "flux", "--load", "sdxl"],
             decision: "load", evict: ["flux"], device: "gpu1", status: 0),
        Case(name: "foreign memory forces an eviction", arguments: ["--resident", "asr,llm-9b", "--foreign", "gpu0=2GiB", "--load", "tts"],
             decision: "load", evict: ["llm-9b"], status: 0),
        Case(name: "never fits", arguments: ["--load", "llm-20b"], decision: "reject", status: 4),
        Case(name: "placement: most free without eviction", arguments: ["--resident", "llm-9b", "--load", "anywhere"],
             decision: "load", device: "gpu1", status: 0),
        Case(name: "unknown model", arguments: ["--load", "nope"], decision: "reject", device: nil, status: 4),
    ]

    @Test(arguments: cases)
    func scenario(_ c: Case) throws {
        let (report, status) = try Self.plan(c.arguments)
        #expect(report.decision == c.decision, "\(report.reason)")
        #expect(report.evict == c.evict)
        #expect(report.device == c.device)
        #expect(status == c.status)
    }

    @Test func jsonCarriesTheNumbers() throws {
        let (report, _) = try Self.plan(["--resident", "asr,tts,llm-4b", "--load", "llm-13b"])
        #expect(report.model == "llm-13b")
        #expect(report.freeBefore == 6 << 30)
        #expect(report.freeAfter == 1 << 30)
        #expect(report.evictions.map(\.rule) == ["lower_or_same_tier", "upward_last_resort"])
        #expect(report.reason.contains("evicting llm-4b, asr"))
    }

    @Test func badStateIsAnErrorNotADecision() throws {
        let path = try CommandRunner.temporaryFile(Self.config)
        let unknown = try CommandRunner.run(["plan", "--config", path, "--resident", "ghost", "--load", "asr"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("unknown model 'ghost'"))
        let badPair = try CommandRunner.run(["plan", "--config", path, "--foreign", "gpu0", "--load", "asr"])
        #expect(badPair.status == 64)
        #expect(badPair.stderr.contains("DEVICE=SIZE"))
    }
}

@Suite struct CheckConfigCommandTests {
    @Test func validConfigPrintsASummary() throws {
        let path = try CommandRunner.temporaryFile(PlanCommandTests.config)
        let result = try CommandRunner.run(["check-config", path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\(path): OK"))
        #expect(result.stdout.contains("llm-13b"))
        #expect(result.stdout.contains("group diffusion"))
    }

    @Test func brokenConfigPrintsEveryErrorAndExits1() throws {
        let path = try CommandRunner.temporaryFile("models:\n  whisper:\n    memroy: 4GiB\n  piper:\n    memory: 2 lots\n")
        let result = try CommandRunner.run(["check-config", path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("\(path):3:5: models.whisper.memroy: unknown key 'memroy' (did you mean 'memory'?)"))
        #expect(result.stderr.contains("models.piper.memory: expected a size"))
    }
}

/// Models sized from their GGUF file, with the real gemma model the test script installs.
@Suite struct GGUFFootprintCommandTests {
    static var model: String? {
        let path = ProcessInfo.processInfo.environment["VRAMD_TEST_MODEL"]
        if path == nil && ProcessInfo.processInfo.environment["VRAMD_REQUIRE_REAL"] == "1" {
            Issue.record("VRAMD_TEST_MODEL is not set but VRAMD_REQUIRE_REAL=1")
        }
        return path
    }

    @Test func checkConfigEstimatesAndPlanUsesTheEstimate() throws {
        guard let model = Self.model else { return }
        let config = """
            devices: [{id: gpu0, kind: simulated, capacity: 700MiB, cushion: 0B}]
            models:
              small: {kind: llm, memory: {gguf: \(model), context: 4096}}
              fitted: {kind: llm, memory: {gguf: \(model), context: fit, budget: 350MiB}}
              broken: {kind: llm, memory: {gguf: missing.gguf}}
            """
        let path = try CommandRunner.temporaryFile(config)
        let broken = try CommandRunner.run(["check-config", path])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("models.broken.memory.gguf"))
        #expect(broken.stderr.contains("missing.gguf"))

        let fixed = try CommandRunner.temporaryFile(config.replacingOccurrences(of: "  broken: {kind: llm, memory: {gguf: missing.gguf}}", with: ""))
        let check = try CommandRunner.run(["check-config", fixed])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("est. ctx 4096"))
        // The two estimates (~316 and ~349 MiB) fit side by side in 700 MiB.
        let both = try CommandRunner.run(["plan", "--config", fixed, "--resident", "small", "--load", "fitted", "--json"])
        let report = try JSONDecoder().decode(PlanReport.self, from: Data(both.stdout.utf8))
        #expect(report.decision == "load" && report.evict.isEmpty)
        let small = try #require(report.freeBefore)
        #expect(small > 350 << 20 && small < 400 << 20, "700 MiB less the 4k-context estimate (~316 MiB)")
    }
}

/// The configs the README points people at stay valid.
@Suite struct ExampleConfigTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    @Test func sixteenGigabyteBoxChecksAndPlansTheREADMEExample() throws {
        let path = Self.examples.appendingPathComponent("16gb-box.yaml").path
        #expect(try CommandRunner.run(["check-config", path]).status == 0)
        let plan = try CommandRunner.run(["plan", "--config", path, "--resident", "whisper,piper,llm-small", "--load", "llm-large", "--json"])
        let report = try JSONDecoder().decode(PlanReport.self, from: Data(plan.stdout.utf8))
        #expect(report.evict == ["llm-small", "whisper"])
    }

    @Test func quickstartChecksOnceBootstrapped() throws {
        guard ProcessInfo.processInfo.environment["VRAMD_REQUIRE_REAL"] == "1" else { return }
        let result = try CommandRunner.run(["check-config", Self.examples.appendingPathComponent("quickstart.yaml").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("est. ctx 4096"))
    }
}
