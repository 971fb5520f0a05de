import Foundation
import Testing

/// `/metrics` as the Gateway API Inference Extension's endpoint picker reads it, parsed by
/// `prometheus_client`: queue and running gauges, memory use, and exactly one residency series
/// whose lists and `max_lora` agree with `/v1/status`, in each state a node can be in.
@Suite(.timeLimit(.minutes(1)))
struct ClusterMetricsTests {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples of `/metrics`, read by prometheus_client's parser.
    static func scrape(_ vramd: Vramd) async throws -> [Sample] {
        let page = try await HTTP.get(vramd.url + "/metrics").text
        let script = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../Support/prometheus_samples.py").standardized.path
        let output = try await PythonScript.run(script, input: page)
        let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] ?? []
        return parsed.map { Sample(name: $0["name"] as? String ?? "", labels: $0["labels"] as? [String: String] ?? [:],
                                   value: $0["value"] as? Double ?? .nan) }
    }

    struct Residency: Equatable {
        var running: Set<String>
        var waiting: Set<String>
        var maxLora: Int
    }

    /// The one residency series, and the gauges beside it.
    static func read(_ vramd: Vramd) async throws -> (residency: Residency, since: Double, gauges: [String: Double]) {
        let samples = try await scrape(vramd)
        let series = samples.filter { $0.name == "vramd_model_residency" }
        try #require(series.count == 1, "exactly one residency series: \(series)")
        let labels = series[0].labels
        func list(_ key: String) -> Set<String> {
            Set((labels[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        let maxLora = try #require(labels["max_lora"].flatMap(Int.init), "max_lora must be an integer: \(labels)")
        var gauges: [String: Double] = [:]
        for sample in samples where sample.labels.isEmpty { gauges[sample.name] = sample.value }
        return (Residency(running: list("running_lora_adapters"), waiting: list("waiting_lora_adapters"), maxLora: maxLora),
                series[0].value, gauges)
    }

    /// What `/v1/status` says the lists must be.
    static func expected(_ vramd: Vramd) async throws -> (running: Set<String>, waiting: Set<String>) {
        let models = try await vramd.status()["models"] as? [[String: Any]] ?? []
        func names(_ model: [String: Any]) -> [String] { [model["id"] as? String ?? ""] + (model["aliases"] as? [String] ?? []) }
        let running = models.filter { ["ready", "unloading"].contains($0["state"] as? String) }.flatMap(names)
        let waiting = models.filter { model in
            let state = model["state"] as? String
            return state == "loading" || ((model["queued"] as? Int ?? 0) > 0 && state != "ready")
        }.flatMap(names)
        return (Set(running), Set(waiting))
    }

    @Test func everyStateIsOneResidencySeriesThatMatchesTheStatus() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 3GiB, aliases: [alpha], backend: \(backend.yaml(model: "a", loadGate: "load-a"))}
                  b: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "b", loadGate: "load-b"))}
                  big: {kind: llm, memory: 9GiB, backend: \(backend.yaml(model: "big"))}
                """) { vramd in
                let gib = Double(1 << 30)
                // Nothing loaded: a and b would both fit, big never.
                var (residency, since, gauges) = try await Self.read(vramd)
                #expect(residency == Residency(running: [], waiting: [], maxLora: 2))
                #expect(gauges["vramd_requests_queued"] == 0 && gauges["vramd_requests_running"] == 0, "\(gauges)")
                #expect(gauges["vramd_memory_used_ratio"] == 0 && gauges["vramd_memory_loadable_bytes"] == 8 * gib, "\(gauges)")
                let unchanged = try await Self.read(vramd)
                #expect(unchanged.since == since, "the series' time moves only when it changes")

                // a loading: it is waiting, and its memory is already spoken for.
                async let first = vramd.chat("alpha", tag: "a1")
                try await vramd.waitForModel("a", "loading") { $0["state"] as? String == "loading" }
                (residency, since, gauges) = try await Self.read(vramd)
                #expect(residency == Residency(running: [], waiting: ["a", "alpha"], maxLora: 2), "\(residency)")
                #expect(gauges["vramd_requests_queued"] == 1, "the request waits for the load: \(gauges)")
                #expect(gauges["vramd_memory_loadable_bytes"] == 5 * gib, "\(gauges)")
                #expect(since >= unchanged.since)
                var status = try await Self.expected(vramd)
                #expect(residency.running == status.running && residency.waiting == status.waiting)

                // a resident.
                try await backend.open("load-a")
                #expect(try await first.status == 200)
                (residency, _, gauges) = try await Self.read(vramd)
                #expect(residency == Residency(running: ["a", "alpha"], waiting: [], maxLora: 2), "\(residency)")
                #expect(gauges["vramd_memory_used_ratio"] == 3.0 / 8, "\(gauges)")
                #expect(gauges["vramd_requests_queued"] == 0 && gauges["vramd_requests_running"] == 0, "\(gauges)")

                // Two requests queued behind b's load.
                async let second = vramd.chat("b", tag: "b1")
                async let third = vramd.chat("b", tag: "b2")
                try await vramd.waitForModel("b", "two waiting for its load") { $0["state"] as? String == "loading" && $0.int("queued") == 2 }
                (residency, _, gauges) = try await Self.read(vramd)
                #expect(residency == Residency(running: ["a", "alpha"], waiting: ["b"], maxLora: 2), "\(residency)")
                #expect(gauges["vramd_requests_queued"] == 2, "\(gauges)")
                status = try await Self.expected(vramd)
                #expect(residency.running == status.running && residency.waiting == status.waiting)
                try await backend.open("load-b")
                #expect(try await second.status == 200)
                #expect(try await third.status == 200)

                // A model that can never fit is refused and leaves the series as it was.
                (residency, since, _) = try await Self.read(vramd)
                #expect(residency == Residency(running: ["a", "alpha", "b"], waiting: [], maxLora: 2), "\(residency)")
                let refused = try await vramd.chat("big")
                #expect(refused.status == 507, "\(refused)")
                let after = try await Self.read(vramd)
                #expect(after.residency == residency && after.since == since)
            }
        }
    }
}
