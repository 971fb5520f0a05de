import Foundation
import Testing

/// Loads and evictions through a running `vramd serve`, against a real backend that counts what
/// vramd asks of it.
@Suite(.timeLimit(.minutes(1)))
struct LoadingTests {
    /// Every request of a test, run at once; the replies in no particular order.
    static func concurrently(_ count: Int, _ send: @escaping @Sendable (Int) async throws -> HTTP.Reply) async throws -> [HTTP.Reply] {
        try await withThrowingTaskGroup(of: HTTP.Reply.self) { group in
            for index in 0..<count { group.addTask { try await send(index) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func twentyWaitersShareOneLoad() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, max_concurrency: 4, backend: \(backend.yaml(model: "a", loadGate: "load"))}
                """) { vramd in
                async let replies = Self.concurrently(20) { try await vramd.chat("a", tag: "r\($0)") }
                // Every request has reached the scheduler while the one load is held open.
                _ = await backend.output.first { $0 == "load a" }
                try await vramd.waitForStatus("20 requests waiting") { ($0["scheduler"] as? [String: Any])?.int("requests") == 20 }
                try await backend.open("load")
                let answered = try await replies
                #expect(answered.map(\.status) == Array(repeating: 200, count: 20), "\(answered.filter { $0.status != 200 })")
                let stats = try await backend.stats()
                #expect(stats.loads == ["a": 1])
                #expect(stats.requests == 20)
                #expect(try await vramd.model("a").int("load_count") == 1)
            }
        }
    }

    @Test func alternatingModelsEvictEachOther() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                policy: {min_residency: 0s}
                devices: [{id: gpu0, kind: simulated, capacity: 10GiB}]
                models:
                  a: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "a"))}
                  b: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "b"))}
                """) { vramd in
                for round in 0..<3 {
                    for model in ["a", "b"] {
                        let reply = try await vramd.chat(model, tag: "\(model)\(round)")
                        #expect(reply.status == 200, "\(model) round \(round): \(reply)")
                    }
                }
                let stats = try await backend.stats()
                #expect(stats.loads == ["a": 3, "b": 3])
                #expect(stats.unloads["a"] == 3 && stats.unloads["b"] == 2)
                #expect(stats.maxLoaded == 1, "both models were loaded at once on a device that holds one")
                let scheduler = try await vramd.scheduler()
                #expect(scheduler.int("swaps") == 5)
                #expect((scheduler["evictions"] as? [String: Int])?.values.reduce(0, +) == 5)
                #expect(try await vramd.model("b").state == "ready")
                #expect(try await vramd.model("a").state == "unloaded")
            }
        }
    }

    @Test func aModelWithRequestsInFlightIsNotEvicted() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                policy: {min_residency: 0s}
                devices: [{id: gpu0, kind: simulated, capacity: 10GiB}]
                models:
                  a: {kind: llm, memory: 6GiB, max_concurrency: 2, backend: \(backend.yaml(model: "a"))}
                  b: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "b"))}
                """) { vramd in
                async let first = vramd.chat("a", tag: "a1", ["gate": "a"])
                async let second = vramd.chat("a", tag: "a2", ["gate": "a"])
                await backend.started("a1")
                await backend.started("a2")
                async let other = vramd.chat("b", tag: "b1")
                // b's load waits for a to drain; vramd says so before anything is unloaded.
                _ = await vramd.output.first { $0.contains("waiting to load") && $0.contains("b") }
                #expect(try await backend.stats().unloads.isEmpty)
                #expect(try await vramd.model("a").int("in_flight") == 2)
                try await backend.open("a")
                let replies = try await [first, second, other]
                #expect(replies.map(\.status) == [200, 200, 200], "\(replies)")
                let stats = try await backend.stats()
                #expect(stats.unloads == ["a": 1])
                #expect(stats.finished.prefix(2).sorted() == ["a1", "a2"] && stats.finished.last == "b1")
            }
        }
    }

    @Test func keepAliveUnloadsAnIdleModel() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 10GiB}]
                models:
                  a: {kind: llm, memory: 6GiB, keep_alive: 1s, backend: \(backend.yaml(model: "a"))}
                  b: {kind: llm, memory: 2GiB, keep_alive: forever, backend: \(backend.yaml(model: "b"))}
                """) { vramd in
                // Taken before a's request is sent, so before a's keep-alive can start.
                let sent = ContinuousClock.now
                #expect(try await vramd.chat("a").status == 200)
                #expect(try await vramd.chat("b").status == 200)
                try await vramd.waitForModel("a", "unloaded by the reaper") { $0.state == "unloaded" }
                #expect(sent.duration(to: .now) >= .seconds(1), "unloaded before its keep-alive ran out")
                #expect(try await backend.stats().unloads == ["a": 1])
                #expect(try await vramd.model("b").state == "ready")
                // It comes back on the next request.
                #expect(try await vramd.chat("a").status == 200)
                #expect(try await backend.stats().loads["a"] == 2)
            }
        }
    }

    @Test func onPressureHookHearsOfAnEviction() async throws {
        try await withPressureHook(["a": "6GiB", "b": "6GiB"]) { vramd, _, hook in
            #expect(try await vramd.chat("a").status == 200)
            #expect(try await hook.stats().hooks.isEmpty, "a load with room is no pressure")
            #expect(try await vramd.chat("b").status == 200)
            _ = await hook.output.first { $0.hasPrefix("hook ") }
            let posted = try #require(try await hook.stats().hooks.first)
            #expect(posted["decision"] as? String == "evict")
            #expect(posted["model"] as? String == "b")
            #expect(posted["evict"] as? [String] == ["a"])
            #expect(posted["requested"] as? Int == 6 << 30)
            #expect(posted["available"] as? Int == 4 << 30)
        }
    }

    /// A load waiting for a busy model plans again at every release anywhere; the hook (and the
    /// log) hear of the wait once, not once per release.
    @Test func onPressureHookHearsOfAWaitOnce() async throws {
        try await withPressureHook(["a": "6GiB", "b": "8GiB", "small": "2GiB"]) { vramd, backend, hook in
            #expect(try await vramd.chat("small").status == 200)
            async let holder = vramd.chat("a", tag: "holder", ["gate": "hold"])
            await backend.started("holder")
            // Only a's 6 GiB make room for b: it waits for a.
            async let waiting = vramd.chat("b")
            _ = await hook.output.first { $0.hasPrefix("hook ") }
            for _ in 0..<5 { #expect(try await vramd.chat("small").status == 200) }
            try await backend.open("hold")
            #expect(try await holder.status == 200)
            #expect(try await waiting.status == 200)
            _ = await hook.output.first { $0.hasPrefix("hook ") && $0.contains("\"evict\"") }
            let posted = try await hook.stats().hooks
            #expect(posted.compactMap { $0["decision"] as? String } == ["wait", "evict"], "\(posted)")
            #expect(posted.first?["waiting_for"] as? [String] == ["a"], "\(posted)")
        }
    }

    /// vramd on a 10 GiB device with `models` (name and size) served by one test backend, and a
    /// second test backend as the `on_pressure` receiver.
    private func withPressureHook(_ models: KeyValuePairs<String, String>,
                                  _ body: (Vramd, TestBackend, TestBackend) async throws -> Void) async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await TestBackend.with { hook in
                let entries = models.map { "  \($0.key): {kind: llm, memory: \($0.value), backend: \(backend.yaml(model: $0.key))}" }
                try await Vramd.with("""
                    policy: {min_residency: 0s}
                    hooks: {on_pressure: "\(hook.url)/hook"}
                    devices: [{id: gpu0, kind: simulated, capacity: 10GiB}]
                    models:
                    \(entries.joined(separator: "\n"))
                    """) { vramd in try await body(vramd, backend, hook) }
            }
        }
    }
}
