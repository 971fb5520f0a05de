import Foundation
import Testing

/// The queue in front of the models: its bound, its timeout, priorities, concurrency slots and
/// the GPU lock of a `serialize` device.
@Suite(.timeLimit(.minutes(1)))
struct QueueTests {
    @Test func aFullQueueAnswers429() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                queue: {max: 5, timeout: 30s}
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                #expect(try await vramd.chat("a", tag: "warm").status == 200)
                async let replies = LoadingTests.concurrently(20) { try await vramd.chat("a", tag: "r\($0)", ["gate": "slow"]) }
                // 1 runs, 5 wait, 14 are turned away; then the running one is let go.
                try await vramd.waitForStatus("14 rejected") { ($0["scheduler"] as? [String: Any])?.int("rejected_queue_full") == 14 }
                try await backend.open("slow")
                let answered = try await replies
                let ok = answered.filter { $0.status == 200 }, full = answered.filter { $0.status == 429 }
                #expect(ok.count == 6 && full.count == 14, "\(answered.map(\.status))")
                for reply in full {
                    #expect(reply.errorCode == "queue_full")
                    #expect(reply.error["type"] as? String == "queue_full")
                    #expect(reply.error["retryable"] as? Bool == true)
                    #expect(reply.error["model"] as? String == "a")
                    #expect(reply.headers.first(name: "Retry-After") == "1")
                }
                #expect(try await backend.stats().requests == 7)
            }
        }
    }

    @Test func aRequestWaitingTooLongAnswers503() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                queue: {timeout: 500ms}
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, preload: true, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                // Loaded beforehand: a load slower than the 500 ms timeout (a busy machine) would
                // time the holder out too.
                try await vramd.waitForModel("a", "preloaded") { $0.state == "ready" }
                async let holder = vramd.chat("a", tag: "holder", ["gate": "hold"])
                await backend.started("holder")
                let started = ContinuousClock.now
                let waiting = try await vramd.chat("a", tag: "late")
                #expect(started.duration(to: .now) >= .milliseconds(450))
                #expect(waiting.status == 503)
                #expect(waiting.errorCode == "queue_timeout")
                #expect(waiting.error["retryable"] as? Bool == true)
                #expect(try await vramd.model("a").int("queued") == 0)
                try await backend.open("hold")
                #expect(try await holder.status == 200)
                #expect(try await backend.stats().started == ["holder"])
                #expect(try await vramd.scheduler().int("queue_timeouts") == 1)
            }
        }
    }

    @Test func aModelWhoseLoadFoundNoRoomInTimeIsLoadedOnceThereIsRoom() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                queue: {timeout: 500ms}
                policy: {min_residency: 0s}
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 5GiB, preload: true, backend: \(backend.yaml(model: "a"))}
                  b: {kind: llm, memory: 5GiB, backend: \(backend.yaml(model: "b"))}
                """) { vramd in
                try await vramd.waitForModel("a", "preloaded") { $0.state == "ready" }
                async let holder = vramd.chat("a", tag: "holder", ["gate": "hold"])
                await backend.started("holder")
                // b's load waits for a's room, which the held request keeps past the timeout.
                let refused = try await vramd.chat("b", tag: "early")
                #expect(refused.status == 503 && refused.errorCode == "queue_timeout", "\(refused)")
                #expect(try await vramd.model("b").state == "unloaded", "not left loading with nothing loading it")
                try await backend.open("hold")
                #expect(try await holder.status == 200)
                let served = try await vramd.chat("b", tag: "late")
                #expect(served.status == 200, "\(served)")
                #expect(try await vramd.model("a").state == "unloaded", "evicted for b")
                #expect(try await vramd.model("b").state == "ready")
            }
        }
    }

    @Test func aClientThatLeavesLeavesTheQueue() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                async let holder = vramd.chat("a", tag: "holder", ["gate": "hold"])
                await backend.started("holder")
                let leaver = Task { try await vramd.chat("a", tag: "leaver") }
                try await vramd.waitForModel("a", "one queued") { $0.int("queued") == 1 }
                // Cancelling closes the client's connection: vramd must notice and drop it.
                leaver.cancel()
                _ = await leaver.result
                try await vramd.waitForModel("a", "the queue empty once the client left") { $0.int("queued") == 0 }
                try await backend.open("hold")
                #expect(try await holder.status == 200)
                #expect(try await vramd.chat("a", tag: "next").status == 200)
                #expect(try await backend.stats().started == ["holder", "next"])
            }
        }
    }

    @Test func aSerializedDeviceRunsOneRequestAtATime() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 16GiB, serialize: true}]
                models:
                  a: {kind: llm, memory: 4GiB, max_concurrency: 8, backend: \(backend.yaml(model: "a"))}
                  b: {kind: tts, memory: 4GiB, max_concurrency: 8, backend: \(backend.yaml(model: "b"))}
                """) { vramd in
                let replies = try await LoadingTests.concurrently(12) { index in
                    try await vramd.chat(index.isMultiple(of: 2) ? "a" : "b", tag: "r\(index)", ["delay": 0.02])
                }
                #expect(replies.allSatisfy { $0.status == 200 }, "\(replies)")
                let stats = try await backend.stats()
                #expect(stats.requests == 12)
                #expect(stats.maxInFlight == 1)
            }
        }
    }

    @Test func maxConcurrencyRequestsRunTogether() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 16GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, max_concurrency: 12, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                async let replies = LoadingTests.concurrently(16) { try await vramd.chat("a", tag: "r\($0)", ["gate": "go"]) }
                try await vramd.waitForModel("a", "12 in flight, 4 queued") { $0.int("in_flight") == 12 && $0.int("queued") == 4 }
                // All 12 reach the backend at once: nothing below vramd's own queue holds them.
                await backend.output.waitUntil { $0.count { $0.hasPrefix("start ") } == 12 }
                #expect(try await backend.stats().inFlight == 12)
                try await backend.open("go")
                #expect(try await replies.allSatisfy { $0.status == 200 })
                #expect(try await backend.stats().maxInFlight == 12)
            }
        }
    }

    @Test func higherPriorityGoesFirstAndFIFOWithinAPriority() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, priority: 3, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                async let holder = vramd.chat("a", tag: "holder", ["gate": "hold"])
                await backend.started("holder")
                // Queued one by one, so their order of arrival is known.
                let order: [(String, String?)] = [("low1", "0"), ("mid1", "2"), ("top1", nil), ("low2", "0"), ("mid2", "2"), ("top2", "3"),
                                                  ("capped", "4")]
                var waiting: [Task<HTTP.Reply, any Error>] = []
                for (position, (tag, priority)) in order.enumerated() {
                    waiting.append(Task { try await vramd.chat("a", tag: tag, headers: priority.map { ["X-Priority": $0] } ?? [:]) })
                    try await vramd.waitForModel("a", "\(position + 1) queued") { $0.int("queued") == position + 1 }
                }
                try await backend.open("hold")
                #expect(try await holder.status == 200)
                for task in waiting { #expect(try await task.value.status == 200) }
                // X-Priority 4 is capped at the model's 3; a missing header means the model's.
                #expect(try await backend.stats().started == ["holder", "top1", "top2", "capped", "mid1", "mid2", "low1", "low2"])
            }
        }
    }
}
