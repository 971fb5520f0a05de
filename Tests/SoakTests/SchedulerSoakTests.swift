import Backends
import Broker
import Foundation
import Testing
import VRAMConfig
import VRAMPolicy

/// A randomised soak of the scheduler: 20 models of random sizes, tiers, keep-alives, QoS and
/// groups on two simulated devices, many concurrent clients. Every load and unload is checked
/// as it happens (see ``Accountant``); at the end every request must have been answered or
/// refused with a structured error, and the run must end within its time limit (no deadlock).
/// Seeded: a failure replays with the same `VRAMD_SOAK_SEED`. `scripts/soak` runs it at 100,000
/// requests; the test suite keeps a short version.
@Suite struct SchedulerSoakTests {
    static let environment = ProcessInfo.processInfo.environment
    static let requests = Int(environment["VRAMD_SOAK_REQUESTS"] ?? "") ?? 4_000
    static let seed = UInt64(environment["VRAMD_SOAK_SEED"] ?? "") ?? 20_261_123

    typealias Generator = SplitMix64

    /// A random cast written as YAML, so the soak goes through the real config reader too.
    static func castYAML(_ rng: inout Generator) -> (yaml: String, sizes: [ModelID: Int64], protected: Set<ModelID>, groups: [ModelID: String]) {
        var yaml = """
            queue: {max: 64, timeout: 20s}
            policy: {min_residency: 20ms, swap_quantum: {requests: 2, time: 50ms}}
            devices:
              - {id: gpu0, kind: simulated, capacity: 8GiB, cushion: 256MiB}
              - {id: gpu1, kind: simulated, capacity: 6GiB, cushion: 256MiB}
            models:

            """
        var sizes: [ModelID: Int64] = [:], protected: Set<ModelID> = [], groups: [ModelID: String] = [:]
        let kinds = ["llm", "tts", "stt", "image", "embed", "rerank"]
        for i in 0..<20 {
            let id = ModelID("m\(i)")
            let mib = Int64.random(in: 200...2500, using: &rng)
            sizes[id] = mib << 20
            var line = "  m\(i): {kind: \(kinds.randomElement(using: &rng)!), memory: \(mib)MiB, priority: \(Int.random(in: 0...4, using: &rng))"
            line += ", max_concurrency: \(Int.random(in: 1...3, using: &rng))"
            switch i {
            case 0:
                line += ", pinned: true, device: gpu0"
                protected.insert(id)
            case 1:
                line += ", qos: guaranteed, keep_alive: forever, device: gpu1"
                protected.insert(id)
            case 2, 3:
                line += ", qos: best_effort"
            case 4:
                line += ", reserve: \(mib / 2)MiB, device: gpu0"
            case 5, 6, 7:
                line += ", exclusive_group: diffusion"
                groups[id] = "diffusion"
            default:
                break
            }
            if i >= 2 {
                let keepAlive = ["0s", "30ms", "200ms", "5s", "forever"].randomElement(using: &rng)!
                line += ", keep_alive: \(keepAlive)"
                if Bool.random(using: &rng) && i != 4 { line += ", device: gpu\(Int.random(in: 0...1, using: &rng))" }
            }
            if i == 8 { line += ", coexists_with: [m9, m10]" }
            yaml += line + ", backend: {type: external, url: \"http://unused\"}}\n"
        }
        return (yaml, sizes, protected, groups)
    }

    @Test(.timeLimit(.minutes(10)))
    func randomisedSoak() async throws {
        var rng = Generator(seed: Self.seed)
        let cast = Self.castYAML(&rng)
        let config = try Config.parse(yaml: cast.yaml, file: "soak.yaml")
        let limits: [DeviceID: Int64] = Dictionary(uniqueKeysWithValues: config.devices.map { ($0.id, ($0.capacity ?? 0) - $0.cushion) })
        let accountant = Accountant(limits: limits, sizes: cast.sizes, neverEvicted: cast.protected, groups: cast.groups)
        let scheduler = try Scheduler.inProcess(config, accountant: accountant)

        let clients = 24
        // Rounded up: the run sends at least the number of requests asked for.
        let perClient = (Self.requests + clients - 1) / clients
        let names = config.models.map(\.id.rawValue)
        let reaper = Task {
            while !Task.isCancelled {
                await scheduler.reapExpired()
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        let outcomes = await withTaskGroup(of: [String: Int].self) { group in
            for client in 0..<clients {
                var clientRNG = Generator(seed: Self.seed &+ UInt64(client) &* 7919)
                group.addTask {
                    var counts: [String: Int] = [:]
                    for _ in 0..<perClient {
                        let name = names.randomElement(using: &clientRNG)!
                        let priority = Int.random(in: 0...4, using: &clientRNG)
                        do {
                            let lease = try await scheduler.acquire(name, priority: priority)
                            accountant.begin(lease.model)
                            for _ in 0..<Int.random(in: 0...3, using: &clientRNG) { await Task.yield() }
                            accountant.end(lease.model)
                            await lease.release()
                            counts["ok", default: 0] += 1
                        } catch let error as BrokerError {
                            counts[error.code, default: 0] += 1
                        } catch {
                            counts["lost: \(error)", default: 0] += 1
                        }
                        // The ledger's own invariant after every step.
                        let ledger = await scheduler.currentLedger
                        for device in ledger.devices where device.plannedUse > device.spec.capacity {
                            accountant.violation("ledger plans \(device.plannedUse) B on \(device.id), over \(device.spec.capacity) B")
                        }
                    }
                    return counts
                }
            }
            var total: [String: Int] = [:]
            for await counts in group { total.merge(counts, uniquingKeysWith: +) }
            return total
        }
        reaper.cancel()
        accountant.shuttingDown.withLock { $0 = true }
        await scheduler.shutdown()

        let state = accountant.snapshot
        let answered = outcomes.values.reduce(0, +)
        print("soak: seed \(Self.seed), \(answered) requests: \(outcomes.sorted { $0.key < $1.key }), \(state.loads) loads, \(state.unloads) unloads")
        #expect(answered == perClient * clients, "every request answered or refused")
        #expect(outcomes.keys.allSatisfy { !$0.hasPrefix("lost") }, "\(outcomes)")
        #expect(Set(outcomes.keys).isSubset(of: ["ok", "queue_full", "queue_timeout", "insufficient_memory"]), "\(outcomes)")
        #expect((outcomes["ok"] ?? 0) > answered / 2, "most requests are served")
        #expect(state.loads > 20, "the cast does not fit at once, so models come and go")
        #expect(state.violations.isEmpty, "\(state.violations.prefix(10))")
        #expect(state.usedOnDevice.values.allSatisfy { $0 == 0 }, "everything unloaded at shutdown: \(state.usedOnDevice)")
    }
}
