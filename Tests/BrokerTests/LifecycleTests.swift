import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// What happens around requests: a backend dying mid-stream, config reloads, shutdown.
@Suite(.timeLimit(.minutes(1)))
struct LifecycleTests {
    @Test func aBackendKilledMidStreamEndsTheStreamAndIsReloaded() async throws {
        try await withTemporaryDirectory { pids in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: {type: process, command: \(TestPrograms.processCommand(["--pid-dir", pids]))}}
                """) { vramd in
                var request = HTTPClientRequest(url: vramd.url + "/v1/chat/completions")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                let body: [String: Any] = ["model": "a", "stream": true, "chunks": 10_000, "chunk_delay": 0.02]
                request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
                let response = try await HTTP.client.execute(request, timeout: .seconds(30))
                #expect(response.status.code == 200)
                #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
                var chunks = response.body.makeAsyncIterator()
                let first = try #require(try await chunks.next())
                // The first event names the server's pid: kill it without warning.
                let text = String(buffer: first)
                let pidText = try #require(text.split(separator: "\"pid\": ").dropFirst().first?.prefix { $0.isNumber })
                let pid = try #require(Int32(pidText))
                kill(pid, SIGKILL)
                let killed = ContinuousClock.now
                // The stream ends cleanly, its last event vramd's structured error.
                var rest = ""
                while let chunk = try await chunks.next() { rest += String(buffer: chunk) }
                #expect(killed.duration(to: .now) < .seconds(1), "the client's stream outlived its backend")
                let last = try #require(rest.split(separator: "\n\n").last, "no event after the kill")
                let event = try JSONSerialization.jsonObject(with: Data(last.dropFirst("data: ".count).utf8)) as? [String: Any]
                let error = try #require(event?["error"] as? [String: Any], "the last event is no error: \(last)")
                #expect(error["code"] as? String == "backend_failed")
                #expect(error["model"] as? String == "a")
                #expect(error["retryable"] as? Bool == true)

                try await vramd.waitForModel("a", "marked failed once its process died") { $0.state == "failed" }
                let next = try await vramd.chat("a")
                #expect(next.status == 200, "\(next)")
                #expect(try next.json()["pid"] as? Int != Int(pid))
                #expect(try await vramd.model("a").int("load_count") == 2)
                #expect(try await vramd.model("a").int("in_flight") == 0)
                let started = try startedProcesses(in: pids)
                #expect(started.count == 2 && started.filter(isAlive).count == 1, "one server killed, one started: \(started)")
            }
        }
    }

    @Test func reloadAddsAndRemovesModelsAndRefusesABadConfig() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            let devices = "devices: [{id: gpu0, kind: simulated, capacity: 16GiB}]\n"
            func models(_ names: [String]) -> String {
                "models:\n" + names.map { "  \($0): {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: $0))}\n" }.joined()
            }
            func listed(_ vramd: Vramd) async throws -> [String] {
                let data = try await HTTP.get(vramd.url + "/v1/models").json()["data"] as? [[String: Any]] ?? []
                return data.compactMap { $0["id"] as? String }.sorted()
            }
            try await Vramd.with(devices + models(["a", "b"])) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                #expect(try await vramd.chat("b").status == 200)

                try vramd.rewrite(devices + models(["a", "c"]))
                let reloaded = try await HTTP.post(vramd.url + "/v1/admin/reload", json: [:])
                #expect(reloaded.status == 200, "\(reloaded)")
                #expect(try reloaded.json()["needs_restart"] as? [String] == [], "models change without a restart")
                #expect(try await listed(vramd) == ["a", "c"])
                #expect(try await backend.stats().unloads == ["b": 1], "the removed model is unloaded")
                #expect(try await vramd.chat("c").status == 200)
                #expect(try await vramd.chat("b").status == 404)

                try vramd.rewrite(devices + "models:\n  a: {kind: lm, memory: 4GiB}\n")
                let refused = try await HTTP.post(vramd.url + "/v1/admin/reload", json: [:])
                #expect(refused.status == 400, "\(refused)")
                #expect(refused.errorCode == "invalid_config")
                #expect((refused.error["message"] as? String)?.contains("models.a.kind") == true, "\(refused)")
                #expect(try await listed(vramd) == ["a", "c"])
                #expect(try await vramd.chat("a").status == 200, "the old config keeps working")

                try vramd.rewrite(devices + models(["a", "c", "d"]))
                let reloadsBefore = vramd.output.all.filter { $0.contains("config reloaded") }.count
                vramd.child.signal(SIGHUP)
                await vramd.output.waitUntil { $0.filter { $0.contains("config reloaded") }.count > reloadsBefore }
                #expect(try await listed(vramd) == ["a", "c", "d"])
                #expect(try await vramd.chat("d").status == 200)
            }
        }
    }

    /// Settings a reload applies take effect at once (the queue's bound, routing); one fixed at
    /// start is reported rather than silently ignored, and the running value stays in force.
    @Test func aReloadAppliesRoutingAndTheQueueAndNamesWhatNeedsARestart() async throws {
        try await TestBackend.with([]) { backend in
            let models = "models:\n" + ["a", "b"].map { "  \($0): {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: $0))}\n" }.joined()
            func config(queue: Int, capacity: String, routed: String) -> String {
                "queue: {max: \(queue)}\nrouting: {llm: \(routed)}\ndevices: [{id: gpu0, kind: simulated, capacity: \(capacity)}]\n" + models
            }
            try await Vramd.with(config(queue: 8, capacity: "16GiB", routed: "a")) { vramd in
                #expect(try await HTTP.post(vramd.url + "/v1/llm", json: ["messages": []]).status == 200)
                #expect(try await backend.stats().loads == ["a": 1])

                try vramd.rewrite(config(queue: 2, capacity: "4GiB", routed: "b"))
                let reloaded = try await HTTP.post(vramd.url + "/v1/admin/reload", json: [:])
                #expect(reloaded.status == 200, "\(reloaded)")
                #expect(try reloaded.json()["needs_restart"] as? [String] == ["devices"])
                await vramd.output.waitUntil { $0.contains { $0.contains("take effect only after a restart") && $0.contains("devices") } }

                #expect(try await HTTP.post(vramd.url + "/v1/llm", json: ["messages": []]).status == 200)
                #expect(try await backend.stats().loads == ["a": 1, "b": 1], "routed to the new default")
                let status = try await vramd.status()
                #expect((status["queue"] as? [String: Any])?.int("max") == 2, "the new bound is in force")
            }
        }
    }

    /// A resident model whose backend the new config changes goes on serving from the old one
    /// until it is idle, and is then loaded through the new one.
    @Test func aReloadThatChangesAResidentModelsBackendLoadsItThroughTheNewOne() async throws {
        try await TestBackend.with([]) { backend in
            let devices = "devices: [{id: gpu0, kind: simulated, capacity: 16GiB}]\n"
            try await Vramd.with(devices + "models:\n  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}\n") { vramd in
                #expect(try await vramd.chat("a").status == 200)
                try vramd.rewrite(devices + "models:\n  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a-v2"))}\n")
                let reloaded = try await HTTP.post(vramd.url + "/v1/admin/reload", json: [:])
                #expect(reloaded.status == 200, "\(reloaded)")
                #expect(try await vramd.chat("a").status == 200)
                let stats = try await backend.stats()
                #expect(stats.loads == ["a": 1, "a-v2": 1], "loaded again through the changed backend")
                #expect(stats.unloads == ["a": 1])
                #expect(try await vramd.model("a").int("load_count") == 2)
            }
        }
    }

    /// A model taken out of the config while it loads: the load finishes, the request waiting
    /// for it is refused, the model is unloaded and forgotten, and vramd goes on serving.
    @Test func aModelRemovedWhileItLoadsIsUnloadedOnceLoaded() async throws {
        try await TestBackend.with([]) { backend in
            let devices = "devices: [{id: gpu0, kind: simulated, capacity: 16GiB}]\nmodels:\n"
            let a = "  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}\n"
            let b = "  b: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "b", loadGate: "b"))}\n"
            try await Vramd.with(devices + a + b) { vramd in
                async let waiting = vramd.chat("b")
                _ = await backend.output.first { $0 == "load b" }
                try vramd.rewrite(devices + a)
                async let reloaded = HTTP.post(vramd.url + "/v1/admin/reload", json: [:])
                await vramd.output.waitUntil { $0.contains { $0.contains("config reloaded") } }
                try await backend.open("b")
                #expect(try await reloaded.status == 200)
                // Still waiting for the load when b left the config: refused, not served by a
                // model that is going, nor left to wait out its queue timeout.
                let refused = try await waiting
                #expect(refused.status == 404 && refused.errorCode == "model_not_found", "\(refused)")
                #expect(try await backend.stats().unloads["b"] == 1, "what the load started is stopped")
                let models = try await vramd.status()["models"] as? [[String: Any]] ?? []
                #expect(models.compactMap { $0["id"] as? String } == ["a"])
                #expect(try await vramd.chat("a").status == 200)
            }
        }
    }

    @Test func sigtermLetsRequestsFinishAndStopsEveryProcess() async throws {
        try await withTemporaryDirectory { pids in
            let directory = pids + "/run"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let command = TestPrograms.processCommand(["--pid-dir", pids])
            let vramd = try await Vramd.start("""
                shutdown_grace: 10s
                devices: [{id: gpu0, kind: simulated, capacity: 16GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, max_concurrency: 2, backend: {type: process, command: \(command)}}
                  b: {kind: llm, memory: 4GiB, backend: {type: process, command: \(command)}}
                """, in: directory, arguments: ["--log-level", "debug"])
            defer { vramd.child.signalGroup(SIGKILL) }
            let warm = try await vramd.chat("a")
            let port = try #require(try warm.json()["port"] as? Int)
            #expect(try await vramd.chat("b").status == 200)

            async let first = vramd.chat("a", tag: "f1", ["gate": "finish"])
            async let second = vramd.chat("a", tag: "f2", ["gate": "finish"])
            try await vramd.waitForModel("a", "2 in flight") { $0.int("in_flight") == 2 }
            vramd.child.signal(SIGTERM)
            // Let the gated requests finish only once vramd is shutting down.
            _ = await vramd.output.first { $0.contains("Triggering graceful shutdown") }
            _ = try await HTTP.post("http://127.0.0.1:\(port)/open", json: ["gate": "finish"])
            let replies = try await [first, second]
            #expect(replies.map(\.status) == [200, 200], "\(replies)")
            let status = await vramd.child.waitForExit()
            #expect(status.isSuccess, "\(status)\n\(vramd.output.all.suffix(20).joined(separator: "\n"))")
            let started = try startedProcesses(in: pids)
            #expect(started.count == 2)
            #expect(started.filter(isAlive).isEmpty, "processes vramd started outlived it")
        }
    }
}
