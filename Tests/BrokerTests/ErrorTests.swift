import Foundation
import Testing

/// The errors vramd makes itself: the status, and the structured body
/// `{"error": {"code", "type", "message", "model", "retryable"}}`.
@Suite(.timeLimit(.minutes(1)))
struct ErrorTests {
    static let token = "a-test-token-of-32-characters-ok"

    @Test func requestErrors() async throws {
        // Without --check-loaded: the body goes through unchanged, so the backend sees the alias
        // (as llama-server would, which serves whatever model name it is sent).
        try await TestBackend.with { backend in
            try await Vramd.with("""
                max_body: 1KiB
                auth: {token: \(Self.token)}
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  llama: {kind: llm, memory: 4GiB, aliases: [gpt-4o-mini], backend: \(backend.yaml(model: "llama"))}
                """) { vramd in
                let auth = ["Authorization": "Bearer \(Self.token)"]
                let chat = vramd.url + "/v1/chat/completions"

                let health = try await HTTP.get(vramd.url + "/healthz")
                #expect(health.status == 200, "healthz needs no token")
                let missing = try await HTTP.post(chat, json: ["model": "llama"])
                #expect(missing.status == 401 && missing.errorCode == "unauthorized", "\(missing)")
                let wrong = try await HTTP.post(chat, json: ["model": "llama"], headers: ["Authorization": "Bearer \(Self.token.dropLast())x"])
                #expect(wrong.status == 401 && wrong.errorCode == "unauthorized", "\(wrong)")
                #expect(try await HTTP.get(vramd.url + "/v1/models").status == 401)

                let unknown = try await HTTP.post(chat, json: ["model": "lama"], headers: auth)
                #expect(unknown.status == 404 && unknown.errorCode == "model_not_found", "\(unknown)")
                #expect((unknown.error["message"] as? String)?.contains("did you mean 'llama'") == true, "\(unknown)")
                #expect(unknown.error["model"] as? String == "lama")
                #expect(unknown.error["retryable"] as? Bool == false)

                let malformed = try await HTTP.post(chat, raw: "{\"model\": \"llama\",", headers: auth.merging(["Content-Type": "application/json"]) { $1 })
                #expect(malformed.status == 400 && malformed.errorCode == "bad_request", "\(malformed)")
                let array = try await HTTP.post(chat, raw: "[1, 2]", headers: auth)
                #expect(array.status == 400 && array.errorCode == "bad_request", "\(array)")
                let noModel = try await HTTP.post(chat, json: ["messages": []], headers: auth)
                #expect(noModel.status == 400 && noModel.errorCode == "bad_request", "\(noModel)")
                let numberModel = try await HTTP.post(chat, json: ["model": 7], headers: auth)
                #expect(numberModel.status == 400 && numberModel.errorCode == "bad_request", "\(numberModel)")
                let large = try await HTTP.post(chat, json: ["model": "llama", "pad": String(repeating: "x", count: 2048)], headers: auth)
                #expect(large.status == 413 && large.errorCode == "payload_too_large", "\(large)")

                // None of that reached the backend; a good request by its alias does.
                #expect(try await backend.stats().loads.isEmpty)
                let good = try await vramd.chat("gpt-4o-mini", headers: auth)
                #expect(good.status == 200, "\(good)")
                #expect(try good.json()["model"] as? String == "gpt-4o-mini", "the body goes through unchanged")
            }
        }
    }

    @Test func aBackendThatIsDownAnswers502() async throws {
        let backend = try await TestBackend.start()
        let url = backend.url
        backend.child.signalGroup(SIGKILL)
        _ = await backend.child.waitForExit()
        try await Vramd.with("""
            devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
            models:
              gone: {kind: llm, memory: 4GiB, backend: {type: http, url: "\(url)", load_timeout: 2s}}
            """) { vramd in
            let reply = try await vramd.chat("gone")
            #expect(reply.status == 502 || reply.status == 504, "\(reply)")
            #expect(["backend_unreachable", "backend_failed", "load_timeout"].contains(reply.errorCode ?? ""), "\(reply)")
            #expect(reply.error["model"] as? String == "gone")
        }
    }

    @Test func aBackendThatVanishesAfterLoadingAnswers502Unreachable() async throws {
        let backend = try await TestBackend.start()
        try await Vramd.with("""
            devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
            models:
              a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
            """) { vramd in
            #expect(try await vramd.chat("a").status == 200)
            backend.child.signalGroup(SIGKILL)
            _ = await backend.child.waitForExit()
            let reply = try await vramd.chat("a")
            #expect(reply.status == 502 && reply.errorCode == "backend_unreachable", "\(reply)")
            #expect(reply.error["retryable"] as? Bool == true)
            #expect(try await vramd.model("a").int("in_flight") == 0, "the slot is given back")
        }
    }

    @Test func aJSONAnswerCutShortAnswers502BackendFailed() async throws {
        // A whole answer is read before it is passed on, so a backend that hangs up halfway
        // through one still gets the client a structured error instead of a broken transfer.
        try await TestBackend.with { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                let reply = try await vramd.chat("a", ["cut": true])
                #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(reply)")
                #expect(reply.error["model"] as? String == "a")
                #expect(try await vramd.model("a").int("in_flight") == 0, "the slot is given back")
                #expect(try await vramd.chat("a").status == 200, "the next request is served")
            }
        }
    }

    @Test func aLoadThatFailsAnswers502BackendFailed() async throws {
        try await TestBackend.with(["--fail-load"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                let reply = try await vramd.chat("a")
                #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(reply)")
                #expect((reply.error["message"] as? String)?.contains("500") == true, "\(reply)")
                #expect(try await vramd.model("a").state == "failed")
                // A failed model is tried again on the next request.
                _ = try await vramd.chat("a")
                #expect(try await backend.stats().loads == ["a": 2])
            }
        }
    }

    @Test func aProcessNeverReadyAnswers504AndIsStopped() async throws {
        try await withTemporaryDirectory { pids in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  slow: {kind: llm, memory: 4GiB, backend: {type: process, load_timeout: 3s, stop_timeout: 2s,
                         command: \(TestPrograms.processCommand(["--never-ready", "--pid-dir", pids]))}}
                """) { vramd in
                let reply = try await vramd.chat("slow")
                #expect(reply.status == 504 && reply.errorCode == "load_timeout", "\(reply)")
                #expect(reply.error["retryable"] as? Bool == true)
                let started = try startedProcesses(in: pids)
                #expect(started.count == 1)
                #expect(started.allSatisfy { !isAlive($0) }, "the process that never got ready is still running")
                #expect(try await vramd.model("slow").state == "failed")
            }
        }
    }

    @Test func aProcessThatExitsWhileLoadingAnswers502AtOnce() async throws {
        try await withUnreadyProcess(["--exit-after", "0.2"]) { vramd, pids in
            let sent = ContinuousClock.now
            let reply = try await vramd.chat("crash")
            // Its exit is the answer: nothing waits for the 30 s load timeout.
            #expect(sent.duration(to: .now) < .seconds(10))
            #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(reply)")
            #expect((reply.error["message"] as? String)?.contains("before it became ready") == true, "\(reply)")
            #expect(reply.error["retryable"] as? Bool == true)
            #expect(try await vramd.model("crash").state == "failed")
            let started = try startedProcesses(in: pids)
            #expect(started.count == 1 && started.filter(isAlive).isEmpty, "\(started)")
        }
    }

    /// Every request that joined a load hears how it failed, at once: none waits out its timeout,
    /// and none starts a load of its own.
    @Test func everyRequestJoinedToALoadThatDiesGetsItsError() async throws {
        try await withUnreadyProcess([]) { vramd, pids in
            let joined = (0..<5).map { index in Task { try await vramd.chat("crash", tag: "r\(index)") } }
            try await vramd.waitForModel("crash", "5 queued") { $0.int("queued") == 5 }
            var started = try startedProcesses(in: pids)
            while started.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
                started = try startedProcesses(in: pids)
            }
            let killed = ContinuousClock.now
            kill(started[0], SIGKILL)
            for request in joined {
                let reply = try await request.value
                #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(reply)")
            }
            #expect(killed.duration(to: .now) < .seconds(10), "answered by the load's end, not the 30 s load timeout")
            let all = try startedProcesses(in: pids)
            #expect(all == started, "one load for all five requests: \(all)")
            #expect(try await vramd.scheduler().int("load_failures") == 1)
        }
    }

    @Test func aModelThatNeverFitsAnswers507() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  huge: {kind: llm, memory: 12GiB, backend: \(backend.yaml(model: "huge"))}
                """) { vramd in
                let reply = try await vramd.chat("huge")
                #expect(reply.status == 507 && reply.errorCode == "insufficient_memory", "\(reply)")
                #expect(reply.error["retryable"] as? Bool == false)
                #expect(try await backend.stats().loads.isEmpty)
            }
        }
    }

    /// vramd with one model, `crash`, whose process (given `arguments` too) never gets ready
    /// within its 30 s load timeout; `body` gets the directory that records the processes started.
    private func withUnreadyProcess(_ arguments: [String], _ body: (Vramd, String) async throws -> Void) async throws {
        try await withTemporaryDirectory { pids in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  crash: {kind: llm, memory: 4GiB, backend: {type: process, load_timeout: 30s,
                          command: \(TestPrograms.processCommand(["--never-ready", "--pid-dir", pids] + arguments))}}
                """) { vramd in try await body(vramd, pids) }
        }
    }
}
