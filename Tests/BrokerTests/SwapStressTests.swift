import Foundation
import Synchronization
import Testing
import VRAMPolicy

/// Many clients at once, each a seeded random mix of requests: pipelined bursts across three
/// models of which only two fit (so loads, evictions and queues interleave with requests to
/// ready models), streams, bodies that are not JSON, unknown models, clients that hang up
/// mid-stream, and `Connection: close`.
///
/// Every request must get exactly one well-formed answer, in order, with the status its kind
/// calls for; none may reach a model that is not loaded (the backend answers those 409); none
/// may reach the backend twice; and when the clients are done nothing is left in flight.
@Suite(.timeLimit(.minutes(2)))
struct SwapStressTests {
    static func config(_ backend: TestBackend) -> String {
        """
        # Short residency and swap quanta, so models are swapped many times in a short run
        # (and requests meet models that are draining for a swap).
        policy: {min_residency: 0s, swap_quantum: {requests: 2, time: 100ms}}
        devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
        models:
          a: {kind: llm, memory: 3GiB, max_concurrency: 2, backend: \(backend.yaml(model: "a"))}
          b: {kind: llm, memory: 3GiB, max_concurrency: 2, backend: \(backend.yaml(model: "b"))}
          c: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "c"))}
        """
    }

    /// What one request must be answered with.
    enum Expected {
        case answer(tag: String)
        case stream(tag: String)
        case status(Int)
    }

    /// What the clients saw, gathered across their threads.
    struct Outcome {
        var failures: [String] = []
        var answeredTags: [String] = []
        var requests = 0
    }

    /// Seeds 1 and 2 in the test suite; `scripts/soak` runs many (`VRAMD_STRESS_SEEDS`), and a
    /// failing seed replays as itself.
    static let seeds: [UInt64] = {
        let count = ProcessInfo.processInfo.environment["VRAMD_STRESS_SEEDS"].flatMap { UInt64($0) } ?? 2
        return Array(1...max(1, count))
    }()

    @Test(arguments: seeds)
    func everyRequestGetsItsOwnAnswerWhileModelsComeAndGo(seed: UInt64) async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                let outcome = Mutex(Outcome())
                let url = vramd.url
                await Self.onThreads(6) { client in
                    var random = SplitMix64(seed: seed &* 1_000 &+ UInt64(client))
                    do {
                        try Self.runClient(client, seed: seed, steps: 12, url: url, random: &random, outcome: outcome)
                    } catch {
                        outcome.withLock { $0.failures.append("client \(client): \(error)") }
                    }
                }
                let seen = outcome.withLock { $0 }
                #expect(seen.failures.isEmpty, "\(seen.failures.joined(separator: "\n"))")
                for model in ["a", "b", "c"] {
                    try await vramd.waitForModel(model, "nothing left in flight") { $0.int("in_flight") == 0 }
                }
                let stats = try await backend.stats()
                #expect(Set(stats.started).count == stats.started.count, "a request reached the backend twice: \(stats.started)")
                #expect(Set(seen.answeredTags).isSubset(of: Set(stats.started)))
                // The run did what it is for: models were evicted and swapped back.
                #expect(stats.unloads.values.reduce(0, +) > 0, "\(stats)")
                #expect(try await vramd.scheduler().int("swaps") > 0)
                #expect(seen.requests > 100)
            }
        }
    }

    static func runClient(_ client: Int, seed: UInt64, steps: Int, url: String, random: inout SplitMix64,
                          outcome: borrowing Mutex<Outcome>) throws {
        let models = ["a", "b", "c"]
        var connection: RawConnection?
        for step in 0..<steps {
            let current = try connection ?? RawConnection(url)
            connection = current
            let model = models[Int(random.next() % 3)]
            if random.next() % 8 == 0 {
                // A client that goes away in the middle of a long stream.
                let tag = "s\(seed)c\(client)r\(step)-gone"
                try current.send(try RawConnection.chat(model, tag: tag, ["stream": true, "chunks": 200, "chunk_delay": 0.01]))
                try current.read(timeout: .seconds(30)) { $0.contains("\(tag)-0 ") }
                current.hangUp()
                connection = nil
                outcome.withLock { $0.requests += 1 }
                continue
            }
            var wire = ""
            var expected: [Expected] = []
            let count = 1 + Int(random.next() % 4)
            var closes = false
            for index in 0..<count {
                let tag = "s\(seed)c\(client)r\(step)-\(index)"
                closes = index == count - 1 && random.next() % 6 == 0
                let headers = closes ? ["Connection: close"] : []
                let model = models[Int(random.next() % 3)]
                switch random.next() % 20 {
                case 0..<12:
                    let delay = random.next() % 4 == 0 ? 0.03 : 0
                    wire += try RawConnection.chat(model, tag: tag, ["delay": delay], headers: headers)
                    expected.append(.answer(tag: tag))
                case 12..<15:
                    wire += try RawConnection.chat(model, tag: tag, ["stream": true, "chunks": 2, "chunk_delay": 0.005], headers: headers)
                    expected.append(.stream(tag: tag))
                case 15..<17:
                    wire += RawConnection.post(#"{"model": "\#(model)", "tag": "\#(tag)", "#, headers: headers)
                    expected.append(.status(400))
                default:
                    wire += try RawConnection.chat("no-such-model", tag: tag, headers: headers)
                    expected.append(.status(404))
                }
            }
            let before = HTTPWire.answers(in: current.received)?.count ?? 0
            try current.send(wire)
            try current.read(timeout: .seconds(30)) { (HTTPWire.answers(in: $0)?.count ?? .max) >= before + count }
            if closes { try current.read(timeout: .seconds(10)) { _ in false } }
            guard let answers = HTTPWire.answers(in: current.received) else {
                throw HarnessError("not HTTP on the wire:\n\(current.received)")
            }
            let new = Array(answers.dropFirst(before))
            var failures: [String] = []
            var tags: [String] = []
            if new.count != count { failures.append("\(count) requests, \(new.count) answers:\n\(current.received)") }
            for (answer, expectation) in zip(new, expected) {
                switch expectation {
                case .answer(let tag):
                    if answer.status == 200 && answer.body.contains("\"tag\": \"\(tag)\"") { tags.append(tag) } else {
                        failures.append("\(tag): \(answer.status) \(answer.body)")
                    }
                case .stream(let tag):
                    if answer.status == 200 && answer.body.contains("\(tag)-1 ") && answer.body.contains("data: [DONE]") { tags.append(tag) } else {
                        failures.append("stream \(tag): \(answer.status) \(answer.body)")
                    }
                case .status(let status):
                    if answer.status != status || !answer.body.contains("\"error\"") {
                        failures.append("expected \(status): \(answer.status) \(answer.body)")
                    }
                }
            }
            if closes {
                if !current.closedByServer { failures.append("Connection: close left the connection open") }
                connection = nil
            } else if current.closedByServer {
                failures.append("the server closed a kept-alive connection:\n\(current.received)")
                connection = nil
            }
            outcome.withLock {
                $0.failures += failures
                $0.answeredTags += tags
                $0.requests += count
            }
        }
    }

    /// Runs `body` on `count` threads of its own: the clients block on their sockets, which must
    /// not hold up the test's own tasks.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for index in 0..<count {
                group.enter()
                Thread {
                    body(index)
                    group.leave()
                }.start()
            }
            group.notify(queue: .global()) { continuation.resume() }
        }
    }
}
