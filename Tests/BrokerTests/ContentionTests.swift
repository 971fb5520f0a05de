import Foundation
import Testing

/// Anti-thrash only under contention, with the default policy (min_residency 5s, quantum 4):
/// a lone client alternating between two models that do not fit together never waits, and two
/// clients competing are served in turns.
@Suite(.timeLimit(.minutes(1)))
struct ContentionTests {
    static func config(_ backend: TestBackend) -> String {
        """
        hooks: {on_pressure: "\(backend.url)/hook"}
        devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
        models:
          a: {kind: llm, memory: 5GiB, backend: \(backend.yaml(model: "a"))}
          b: {kind: llm, memory: 5GiB, backend: \(backend.yaml(model: "b"))}
        """
    }

    @Test func aLoneClientAlternatingNeverWaits() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                for model in ["a", "b", "a", "b", "a"] {
                    #expect(try await vramd.chat(model).status == 200)
                }
                #expect(try await vramd.scheduler().int("swaps") == 4)
                let decisions = try await backend.stats().hooks.compactMap { $0["decision"] as? String }
                #expect(decisions == ["evict", "evict", "evict", "evict"], "a load waited: \(decisions)")
            }
        }
    }

    @Test func twoCompetingClientsAreServedInTurns() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                // Client 1 keeps a busy while client 2 asks for b: their requests overlap.
                async let first: [Int] = Self.loop(vramd, "a", count: 8)
                async let second: [Int] = Self.loop(vramd, "b", count: 8)
                let statuses = try await first + second
                #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
                let decisions = try await backend.stats().hooks.compactMap { $0["decision"] as? String }
                #expect(decisions.contains("wait"), "b's load waited its turn: \(decisions)")
                let swaps = try await vramd.scheduler().int("swaps")
                #expect(swaps < 8, "\(swaps) swaps for 16 competing requests: served in turns, not one swap each")
            }
        }
    }

    static func loop(_ vramd: Vramd, _ model: String, count: Int) async throws -> [Int] {
        var statuses: [Int] = []
        for index in 0..<count {
            statuses.append(try await vramd.chat(model, tag: "\(model)\(index)", ["delay": 0.05]).status)
        }
        return statuses
    }
}
