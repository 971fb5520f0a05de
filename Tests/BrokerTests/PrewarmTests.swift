import Foundation
import Testing

/// `policy.prewarm: load`: the model that usually follows another is loaded once the other has
/// served, when it fits without evicting anything; `files` loads nothing.
@Suite(.timeLimit(.minutes(1)))
struct PrewarmTests {
    static func config(_ backend: TestBackend, prewarm: String, capacity: String = "8GiB") -> String {
        """
        policy: {prewarm: \(prewarm), min_residency: 0s}
        devices: [{id: gpu0, kind: simulated, capacity: \(capacity)}]
        models:
          stt: {kind: stt, memory: 2GiB, backend: \(backend.yaml(model: "stt"))}
          chat: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "chat"))}
        """
    }

    /// Two turns of stt then chat, then chat unloaded: the next stt request brings chat back.
    static func learnThenAsk(_ vramd: Vramd) async throws {
        for model in ["stt", "chat", "stt", "chat"] { #expect(try await vramd.chat(model).status == 200) }
        #expect(try await HTTP.post(vramd.url + "/v1/models/chat/unload", raw: "").status == 200)
        #expect(try await vramd.chat("stt").status == 200)
    }

    @Test func theUsualNextModelIsLoadedWhenItFits() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend, prewarm: "load")) { vramd in
                try await Self.learnThenAsk(vramd)
                try await vramd.waitForModel("chat", "loaded ahead of its request") { $0["state"] as? String == "ready" }
                #expect(try await vramd.model("chat").int("load_count") == 2)
            }
        }
    }

    @Test func aGuessNeverEvicts() async throws {
        try await TestBackend.with { backend in
            // Only one fits: loading chat ahead would mean evicting stt, which a guess never does.
            try await Vramd.with(Self.config(backend, prewarm: "load", capacity: "4GiB")) { vramd in
                try await Self.learnThenAsk(vramd)
                #expect(try await vramd.model("stt")["state"] as? String == "ready")
                #expect(try await vramd.model("chat")["state"] as? String == "unloaded")
            }
        }
    }

    @Test func filesOnlyLoadsNothing() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend, prewarm: "files")) { vramd in
                try await Self.learnThenAsk(vramd)
                #expect(try await vramd.model("chat")["state"] as? String == "unloaded")
                #expect(try await vramd.model("chat").int("load_count") == 1)
            }
        }
    }
}
