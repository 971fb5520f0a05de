import Broker
import Foundation
import Testing

/// `/v1/events`, `/v1/status`, `/metrics`, a process backend's logs, `vramd status` and the JSON
/// logs, against a running `vramd serve` with real backends on a simulated 10 GiB device.
@Suite(.serialized) struct ObserveEndToEndTests {
    static func config(backend: String, stateDirectory: String, extra: String = "") -> String {
        """
        listen: 127.0.0.1:0
        state_dir: \(stateDirectory)
        \(extra)
        devices:
          - {id: gpu0, kind: simulated, capacity: 10GiB, cushion: 512MiB}
        models:
          alpha:
            kind: llm
            memory: 6GiB
            backend: {type: http, url: "\(backend)", load: {method: POST, path: /load}, unload: {method: POST, path: /unload}}
          beta:
            kind: stt
            memory: 5GiB
            backend: {type: http, url: "\(backend)", load: {method: POST, path: /load}, unload: {method: POST, path: /unload}}
          gamma:
            kind: tts
            memory: 1GiB
            qos: guaranteed
            device: gpu0
            backend: {type: process, command: [\(LiveBroker.python), \(LiveBroker.backendScript), --port, "${PORT}", --name, gamma]}
        """
    }

    static let gib: Int64 = 1 << 30

    @Test(.timeLimit(.minutes(3)))
    func eventsStatusMetricsLogsAndTheCommandLine() async throws {
        let directory = try LiveBroker.temporaryDirectory()
        let (backend, backendURL) = try await LiveBroker.backend(in: directory)
        defer { backend.stop() }
        let broker = try await LiveBroker.start(config: Self.config(backend: backendURL, stateDirectory: directory + "/state"),
                                                in: directory, arguments: ["--log-format", "json"])
        defer { broker.vramd.stop() }

        let events = try await broker.stream("/v1/events")
        #expect(events.status == 200)
        try await events.read { $0.contains(": vramd events") }

        // alpha, then beta: only one fits, so beta's load evicts alpha.
        #expect(try await broker.post("/v1/chat/completions", json: #"{"model": "alpha", "messages": []}"#).status == 200)
        #expect(try await broker.post("/v1/chat/completions", json: #"{"model": "beta", "messages": []}"#).status == 200)
        let seen = try await events.events(until: "loaded", model: "beta")
        #expect(seen.map { $0.kind } == ["load_started", "loaded", "load_started", "evicted", "swap", "loaded"])
        let eviction = try #require(seen.first { $0.kind == "evicted" }?.data)
        #expect(eviction["model"] as? String == "alpha" && eviction["for"] as? String == "beta")
        #expect(eviction["rule"] as? String == "lower_or_same_tier")
        let evictedBytes = (eviction["bytes"] as? NSNumber)?.int64Value
        #expect(evictedBytes == 6 * Self.gib)
        #expect(seen.first { $0.kind == "swap" }?.data["victims"] as? [String] == ["alpha"])

        let report = try await broker.status()
        let device = try #require(report.devices.first)
        #expect(device.id == "gpu0" && device.kind == "simulated" && device.name == "gpu0")
        #expect(device.total == 10 * Self.gib && device.free != nil)
        #expect(device.capacity == 10 * Self.gib && device.cushion == Self.gib / 2 && device.foreign == 0)
        #expect(device.residents.map(\.model) == ["beta"] && device.resident == 5 * Self.gib)
        // gamma is guaranteed: its memory stays held while it is not loaded.
        #expect(device.reservations.map(\.model) == ["gamma"] && device.reserved == Self.gib)
        #expect(device.plannedUse == 5 * Self.gib + Self.gib + Self.gib / 2)
        #expect(device.freeForPlanning == 10 * Self.gib - device.plannedUse)
        let alpha = try #require(report.models.first { $0.id == "alpha" })
        let beta = try #require(report.models.first { $0.id == "beta" })
        #expect(alpha.state == .unloaded && alpha.loadCount == 1 && alpha.lastUsedAt != nil)
        #expect(beta.state == .ready && beta.device == "gpu0" && beta.footprint == 5 * Self.gib && beta.footprintSource == .declared)
        #expect(beta.keepAliveExpiresIn != nil && beta.lastLoadSeconds != nil && beta.inFlight == 0 && beta.queued == 0)
        #expect(report.scheduler.requests == 2 && report.scheduler.loads == 2 && report.scheduler.swaps == 1)
        #expect(report.scheduler.evictions == ["lower_or_same_tier": 1])
        #expect(report.scheduler.queueWait.count == 2 && report.scheduler.loadTime.count == 2)
        #expect(report.queue.waiting == 0 && report.queue.max == 256)

        // A new subscriber gets what happened so far first.
        let late = try await broker.stream("/v1/events")
        let replayed = try await late.events(until: "loaded", model: "beta")
        #expect(replayed.map { $0.kind } == seen.map { $0.kind })
        let resumed = try await broker.stream("/v1/events", headers: [("Last-Event-ID", "4")])
        #expect(try await resumed.nextEvent().kind == "swap")

        let scrape = try await broker.get("/metrics")
        #expect(scrape.status == 200)
        let metrics = try PrometheusText(scrape.body)
        #expect(metrics.types["vramd_device_bytes"] == "gauge" && metrics.types["vramd_model_state"] == "gauge")
        #expect(metrics.types["vramd_evictions_total"] == "counter" && metrics.types["vramd_queue_wait_seconds"] == "histogram")
        #expect(metrics.value("vramd_device_bytes", ["device": "gpu0", "state": "resident"]) == Double(5 * Self.gib))
        #expect(metrics.value("vramd_device_bytes", ["device": "gpu0", "state": "reserved"]) == Double(Self.gib))
        #expect(metrics.value("vramd_model_state", ["model": "beta", "state": "ready"]) == 1)
        #expect(metrics.value("vramd_model_state", ["model": "alpha", "state": "ready"]) == 0)
        #expect(metrics.value("vramd_model_footprint_bytes", ["model": "beta"]) == Double(5 * Self.gib))
        #expect(metrics.value("vramd_requests_total") == 2 && metrics.value("vramd_loads_total") == 2)
        #expect(metrics.value("vramd_evictions_total", ["rule": "lower_or_same_tier"]) == 1)
        #expect(metrics.value("vramd_swaps_total") == 1)
        #expect(metrics.value("vramd_rejected_requests_total", ["reason": "queue_full"]) == 0)
        #expect(metrics.value("vramd_queue_wait_seconds_count") == 2)
        #expect(metrics.value("vramd_queue_wait_seconds_bucket", ["le": "+Inf"]) == 2)
        #expect(metrics.value("vramd_load_duration_seconds_count", ["model": "beta"]) == 1)

        // The command line draws the same picture; no colour into a pipe.
        let cli = try CommandRunner.run(["status", "--url", broker.url, "--width", "40"])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(!cli.stdout.contains("\u{1B}["))
        let bar = try #require(cli.stdout.split(separator: "\n").first { $0.hasPrefix("[") })
        #expect(bar.filter { $0 == "█" }.count == 20 && bar.filter { $0 == "▒" }.count == 4, "\(bar)")
        #expect(cli.stdout.split(separator: "\n").contains { $0.hasPrefix("beta") && $0.contains("ready") })
        let unreachable = try CommandRunner.run(["status", "--url", "http://127.0.0.1:1"])
        #expect(unreachable.status == 3 && unreachable.stderr.contains("cannot reach vramd"), "no vramd there: exit 3")

        // A process backend's output, then followed as it grows.
        #expect(try await broker.post("/v1/models/gamma/load").status == 200)
        // --watch redraws on each event; a new subscriber is sent the last ones, so the load
        // just made is the last event it shows.
        let (watch, _) = try await LiveProcess.start(CommandRunner.binary.path, ["status", "--url", broker.url, "--watch"],
                                                     in: directory, name: "watch", waitingFor: "last event: loaded gamma")
        watch.forceStop()
        let logs = try await broker.get("/v1/models/gamma/logs?follow=false")
        #expect(logs.status == 200 && logs.body.contains("gamma listening"), "\(logs.body)")
        let tail = try await broker.stream("/v1/models/gamma/logs?lines=1")
        try await tail.read { $0.contains("request GET /health") || $0.contains("listening") }
        #expect(try await broker.post("/v1/chat/completions", json: #"{"model": "gamma", "messages": []}"#).status == 200)
        try await tail.read { $0.contains("gamma request POST /v1/chat/completions") }
        #expect(try await broker.get("/v1/models/alpha/logs").status == 400)

        // SIGTERM with the event streams open: they end, and vramd exits cleanly.
        #expect(broker.vramd.stop() == 0)
        await #expect(throws: (any Error).self) { try await events.read { _ in false } }

        // --log-format json: one object per line, the scheduler's metadata in it.
        let lines = broker.vramd.errors.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let starting = try #require(lines.first { $0["message"] as? String == "starting" }?["metadata"] as? [String: Any])
        #expect((starting["config"] as? String)?.hasSuffix(".yaml") == true, "\(starting)")
        let evict = try #require(lines.first { $0["message"] as? String == "evict" }?["metadata"] as? [String: Any])
        #expect(evict["model"] as? String == "alpha" && evict["rule"] as? String == "lower_or_same_tier")
        #expect(evict["bytes"] as? String == "\(6 * Self.gib)" && evict["for"] as? String == "beta")
        let swap = try #require(lines.first { $0["message"] as? String == "swap" }?["metadata"] as? [String: Any])
        #expect(swap["model"] as? String == "beta" && swap["evicted"] as? String == "alpha" && swap["bytes"] as? String == "\(5 * Self.gib)")
        let loads = lines.filter { $0["message"] as? String == "load" }.compactMap { $0["metadata"] as? [String: Any] }
        #expect(loads.map { $0["model"] as? String } == ["alpha", "beta", "gamma"])
        #expect(loads.map { $0["bytes"] as? String } == ["\(6 * Self.gib)", "\(5 * Self.gib)", "\(Self.gib)"])
        #expect(loads.map { $0["reason"] as? String } == ["request", "request", "admin"])
    }
}
