import Foundation
import Testing

/// Against thrash: before a resident model with queued requests is swapped out for one of the
/// same priority, up to `policy.swap_quantum.requests` of its queued requests are served.
@Suite(.timeLimit(.minutes(1)))
struct SwapQuantumTests {
    /// `a` is resident and busy with 5 more queued when `b` is asked for; the order the backend
    /// started them in, and the swaps vramd counted.
    static func contend(quantum: Int) async throws -> (started: [String], swaps: Int) {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with("""
                policy: {min_residency: 0s, swap_quantum: {requests: \(quantum), time: 30s}}
                devices: [{id: gpu0, kind: simulated, capacity: 10GiB}]
                models:
                  a: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "a"))}
                  b: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "b"))}
                """) { vramd in
                #expect(try await vramd.chat("a", tag: "warm").status == 200)
                var requests: [Task<HTTP.Reply, any Error>] = []
                requests.append(Task { try await vramd.chat("a", tag: "a0", ["gate": "go"]) })
                await backend.started("a0")
                for index in 1...5 {
                    requests.append(Task { try await vramd.chat("a", tag: "a\(index)", ["gate": "go"]) })
                    try await vramd.waitForModel("a", "\(index) queued") { $0.int("queued") == index }
                }
                requests.append(Task { try await vramd.chat("b", tag: "b") })
                _ = await vramd.output.first { $0.contains("waiting to load") }
                try await backend.open("go")
                for request in requests {
                    let reply = try await request.value
                    #expect(reply.status == 200, "\(reply)")
                }
                return (try await backend.stats().started, try await vramd.scheduler().int("swaps"))
            }
        }
    }

    @Test func queuedRequestsOfTheResidentModelAreServedFirst() async throws {
        let (started, swaps) = try await Self.contend(quantum: 2)
        #expect(started == ["warm", "a0", "a1", "a2", "b", "a3", "a4", "a5"])
        #expect(swaps == 2)
    }

    @Test func withoutAQuantumTheWaitingModelGoesNext() async throws {
        let (started, swaps) = try await Self.contend(quantum: 0)
        #expect(started == ["warm", "a0", "b", "a1", "a2", "a3", "a4", "a5"])
        #expect(swaps == 2)
    }

    @Test func aQuantumLargerThanTheQueueServesItAll() async throws {
        let (started, swaps) = try await Self.contend(quantum: 10)
        #expect(started == ["warm", "a0", "a1", "a2", "a3", "a4", "a5", "b"])
        #expect(swaps == 1)
    }
}
