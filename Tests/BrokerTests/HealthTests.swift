import Foundation
import Testing

/// A backend that stops serving while it still listens (its health check fails) is noticed by
/// vramd's periodic checks: its memory is no longer counted and the next request loads it again.
@Suite(.timeLimit(.minutes(1)))
struct HealthTests {
    @Test func aModelFailingTwoHealthChecksIsMarkedFailedAndLoadedAgainOnUse() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                #expect(try await vramd.chat("a", tag: "first").status == 200)
                _ = try await HTTP.post(backend.url + "/sick", json: ["sick": true])

                // Checks run every 5 s; the second failure in a row marks it.
                try await vramd.waitForStatus(timeout: .seconds(25), "a failed") { status in
                    let models = status["models"] as? [[String: Any]] ?? []
                    return models.first { $0["id"] as? String == "a" }?["state"] as? String == "failed"
                }
                let failed = try await vramd.model("a")
                #expect((failed["last_error"] as? String)?.contains("health check") == true, "\(failed)")
                let device = try #require((try await vramd.status()["devices"] as? [[String: Any]])?.first)
                #expect(device.int("resident") == 0, "a failed model's memory is no longer counted: \(device)")
                let stats = try await backend.stats()
                #expect(stats.unloads["a"] == 1, "what was left of it was stopped")

                _ = try await HTTP.post(backend.url + "/sick", json: ["sick": false])
                #expect(try await vramd.chat("a", tag: "again").status == 200)
                #expect(try await backend.stats().loads == ["a": 2])
                #expect(try await vramd.model("a").state == "ready")
            }
        }
    }

    /// A reload changed the backend of a resident model, which then failed before it was ever
    /// idle-unloaded: the next load goes through the new backend, not the old one again.
    @Test func aFailedModelIsLoadedAgainThroughTheBackendAReloadGaveIt() async throws {
        try await TestBackend.with([]) { backend in
            let devices = "devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]\n"
            try await Vramd.with(devices + "models:\n  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}\n") { vramd in
                #expect(try await vramd.chat("a").status == 200)
                try vramd.rewrite(devices + "models:\n  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a-v2"))}\n")
                #expect(try await HTTP.post(vramd.url + "/v1/admin/reload", json: [:]).status == 200)
                _ = try await HTTP.post(backend.url + "/sick", json: ["sick": true])
                try await vramd.waitForModel("a", timeout: .seconds(25), "failed") { $0.state == "failed" }
                _ = try await HTTP.post(backend.url + "/sick", json: ["sick": false])

                #expect(try await vramd.chat("a").status == 200)
                #expect(try await backend.stats().loads == ["a": 1, "a-v2": 1])
            }
        }
    }
}
