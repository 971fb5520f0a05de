import Prometheus
import Testing
@testable import Broker

@Suite struct BrokerMetricsTests {
    @Test func devicesModelsAndCountersComeFromTheReport() {
        let metrics = BrokerMetrics()
        let text = metrics.exposition(StatusFixtures.report())
        #expect(text.contains(#"vramd_device_bytes{device="gpu0",state="foreign"} 1073741824.0"#))
        #expect(text.contains(#"vramd_device_bytes{device="gpu0",state="free"} 5368709120.0"#))
        #expect(text.contains(#"vramd_model_state{model="whisper",state="ready"} 1.0"#))
        #expect(text.contains(#"vramd_model_state{model="whisper",state="unloaded"} 0.0"#))
        #expect(text.contains(#"vramd_model_loads_total{model="piper"} 3"#))
        #expect(text.contains("vramd_requests_total 10"))
        #expect(text.contains(#"vramd_evictions_total{rule="lower_or_same_tier"} 2"#))
        #expect(text.contains("# TYPE vramd_swaps_total counter"))
        #expect(text.contains("# HELP vramd_device_bytes"))
    }

    @Test func countersGrowByWhatTheSchedulerCountedSinceTheLastScrape() {
        let metrics = BrokerMetrics()
        _ = metrics.exposition(StatusFixtures.report(requests: 10))
        _ = metrics.exposition(StatusFixtures.report(requests: 10))
        let text = metrics.exposition(StatusFixtures.report(requests: 13, evictions: ["lower_or_same_tier": 2, "upward_last_resort": 1]))
        #expect(text.contains("vramd_requests_total 13"))
        #expect(text.contains(#"vramd_evictions_total{rule="lower_or_same_tier"} 2"#))
        #expect(text.contains(#"vramd_evictions_total{rule="upward_last_resort"} 1"#))
    }

    @Test func aRemovedModelLeavesNoSeries() {
        let metrics = BrokerMetrics()
        #expect(metrics.exposition(StatusFixtures.report(models: true)).contains(#"model="guard""#))
        let text = metrics.exposition(StatusFixtures.report(models: false))
        #expect(!text.contains(#"vramd_model_state{model="guard""#))
    }

    @Test func latenciesAreHistograms() {
        let registry = PrometheusCollectorRegistry()
        let metrics = BrokerMetrics(registry: registry)
        metrics.recordQueueWait(.milliseconds(300))
        metrics.record(BrokerEvent(kind: .loaded, model: "whisper", seconds: 2))
        let text = registry.emitToString()
        #expect(text.contains("# TYPE vramd_queue_wait_seconds histogram"))
        #expect(text.contains(#"vramd_queue_wait_seconds_bucket{le="0.5"} 1"#))
        #expect(text.contains(#"vramd_queue_wait_seconds_bucket{le="0.25"} 0"#))
        #expect(text.contains(#"vramd_load_duration_seconds_count{model="whisper"} 1"#))
    }
}
