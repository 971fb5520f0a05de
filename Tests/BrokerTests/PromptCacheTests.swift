import Foundation
import Testing

/// The prompt cache's bounds with a backend that misbehaves (the real save and restore are
/// tested against llama-server in `vramdTests`).
@Suite(.timeLimit(.minutes(1)))
struct PromptCacheTests {
    @Test func aServerThatNeverAnswersSlotsDoesNotHoldUpTheSwap() async throws {
        try await Vramd.with("""
            policy: {min_residency: 0s, prompt_cache_timeout: 300ms}
            devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
            models:
              a: {kind: llm, memory: 5GiB, prompt_cache: true, backend: {type: process, command: \(TestPrograms.processCommand(["--silent-slots"]))}}
              b: {kind: llm, memory: 5GiB, backend: {type: process, command: \(TestPrograms.processCommand())}}
            """) { vramd in
            let first = try await vramd.chat("a")
            #expect(first.status == 200, "\(first)")
            #expect(try await vramd.chat("b").status == 200, "b evicted a, whose save gave up")
            let stats = try #require(try await vramd.scheduler()["prompt_cache"] as? [String: Any])
            #expect(stats.int("failures") == 1 && stats.int("saves") == 0, "\(stats)")
            let seconds = try #require((stats["save_seconds"] as? NSNumber)?.doubleValue)
            #expect(seconds >= 0.3 && seconds < 1.5, "the save gave up at prompt_cache_timeout: \(seconds) s")
            #expect(try await vramd.model("a")["state"] as? String == "unloaded")
        }
    }

    /// `prompt_cache` is part of the server's command line (`--slot-save-path`): turned on by a
    /// reload, the running server is replaced by one started with it once idle.
    @Test func aReloadThatTurnsThePromptCacheOnRestartsTheServerWithIt() async throws {
        func config(cache: Bool) -> String {
            """
            devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
            models:
              a: {kind: llm, memory: 5GiB, prompt_cache: \(cache), backend: {type: process, command: \(TestPrograms.processCommand())}}
            """
        }
        func slotSavePath(_ reply: HTTP.Reply) async throws -> String? {
            let port = try #require(try reply.json()["port"] as? Int, "\(reply)")
            return try await HTTP.get("http://127.0.0.1:\(port)/stats").json()["slot_save_path"] as? String
        }
        try await Vramd.with(config(cache: false)) { vramd in
            let before = try await vramd.chat("a")
            #expect(try await slotSavePath(before) == nil)
            try vramd.rewrite(config(cache: true))
            #expect(try await HTTP.post(vramd.url + "/v1/admin/reload", json: [:]).status == 200)
            let after = try await vramd.chat("a")
            #expect(try await slotSavePath(after)?.contains("prompt-cache") == true, "restarted with the cache's directory")
            #expect(try await vramd.model("a").int("load_count") == 2)
        }
    }
}
