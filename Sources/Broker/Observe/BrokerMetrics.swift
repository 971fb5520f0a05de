import Prometheus
import Synchronization
import VRAMConfig

/// vramd's Prometheus metrics, in a registry of its own.
///
/// Histograms are recorded as things happen (``SchedulerObserver``). Gauges and counters are
/// brought up to date from a ``StatusReport`` at each scrape: the scheduler's counters are the
/// one source of truth, and a counter here only ever grows by what they grew by since the last
/// scrape. `vramd serve` bootstraps swift-metrics with this same registry, so libraries that
/// report through swift-metrics (Hummingbird's `MetricsMiddleware`) land in the same `/metrics`.
public final class BrokerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let queueWait: DurationHistogram
    /// Counter values already exported, by series (name and labels); and the model gauges made,
    /// so those of removed models can be dropped.
    private let exported = Mutex(Exported())

    private struct Exported {
        var counters: [String: Int] = [:]
        var modelGauges: [String: [Gauge]] = [:]
        /// The one residency series, what it says, and since when.
        var residency: (gauge: Gauge, value: Residency, since: Double)?
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        queueWait = registry.makeDurationHistogram(descriptor: MetricNames.queueWait, buckets: MetricNames.latencyBuckets)
    }

    func recordQueueWait(_ waited: Duration) {
        queueWait.record(waited)
    }

    func record(_ event: BrokerEvent) {
        guard event.kind == .loaded, let seconds = event.seconds else { return }
        registry.makeDurationHistogram(descriptor: MetricNames.loadDuration, labels: [("model", event.model)], buckets: MetricNames.latencyBuckets)
            .record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Updates every gauge and counter from `report` and returns the exposition text.
    public func exposition(_ report: StatusReport) -> String {
        // One scrape at a time: two interleaved scrapes could both add the same counter delta.
        exported.withLock { exported in
            update(from: report, exported: &exported)
            return registry.emitToString()
        }
    }

    private func update(from report: StatusReport, exported: inout Exported) {
        for device in report.devices {
            var states: [(String, Int64?)] = [("total", device.total), ("free", device.free), ("capacity", device.capacity)]
            states += [("cushion", device.cushion), ("foreign", device.foreign), ("resident", device.resident)]
            states += [("reserved", device.reserved), ("free_for_planning", device.freeForPlanning)]
            for (state, bytes) in states {
                guard let bytes else { continue }
                registry.makeGauge(descriptor: MetricNames.deviceBytes, labels: [("device", device.id), ("state", state)]).set(bytes)
            }
        }
        var present = Set<String>()
        for model in report.models {
            present.insert(model.id)
            var gauges: [Gauge] = []
            for state in [ModelState.unloaded, .loading, .ready, .unloading, .failed] {
                let gauge = registry.makeGauge(descriptor: MetricNames.modelState, labels: [("model", model.id), ("state", state.rawValue)])
                gauge.set(Int64(model.state == state ? 1 : 0))
                gauges.append(gauge)
            }
            let labels = [("model", model.id)]
            for (descriptor, value) in [(MetricNames.modelFootprint, model.footprint), (MetricNames.modelInFlight, Int64(model.inFlight)),
                                        (MetricNames.modelQueued, Int64(model.queued))] {
                let gauge = registry.makeGauge(descriptor: descriptor, labels: labels)
                gauge.set(value)
                gauges.append(gauge)
            }
            exported.modelGauges[model.id] = gauges
            advance(MetricNames.modelLoads, labels, to: model.loadCount, &exported.counters)
        }
        // A model removed from the config leaves no stale series behind.
        for (model, gauges) in exported.modelGauges where !present.contains(model) {
            gauges.forEach(registry.unregisterGauge)
            exported.modelGauges[model] = nil
        }
        registry.makeGauge(descriptor: MetricNames.queueWaiting).set(Int64(report.queue.waiting))
        updateClusterGauges(report, &exported)

        let stats = report.scheduler
        advance(MetricNames.requests, [], to: stats.requests, &exported.counters)
        advance(MetricNames.loads, [], to: stats.loads, &exported.counters)
        advance(MetricNames.loadFailures, [], to: stats.loadFailures, &exported.counters)
        advance(MetricNames.unloads, [], to: stats.unloads, &exported.counters)
        advance(MetricNames.swaps, [], to: stats.swaps, &exported.counters)
        advance(MetricNames.backendFailures, [], to: stats.backendFailures, &exported.counters)
        advance(MetricNames.rejected, [("reason", "queue_full")], to: stats.rejectedQueueFull, &exported.counters)
        advance(MetricNames.rejected, [("reason", "queue_timeout")], to: stats.queueTimeouts, &exported.counters)
        for (action, count) in [("saved", stats.promptCache.saves), ("restored", stats.promptCache.restores),
                                ("failed", stats.promptCache.failures), ("skipped", stats.promptCache.skipped)] {
            advance(MetricNames.promptCacheSlots, [("action", action)], to: count, &exported.counters)
        }
        advance(MetricNames.promptCacheBytes, [("action", "saved")], to: Int(stats.promptCache.bytesSaved), &exported.counters)
        advance(MetricNames.promptCacheBytes, [("action", "restored")], to: Int(stats.promptCache.bytesRestored), &exported.counters)
        for (rule, count) in stats.evictions {
            advance(MetricNames.evictions, [("rule", rule)], to: count, &exported.counters)
        }
    }

    /// The Gateway API Inference Extension's model-server protocol. The residency series is
    /// replaced, never added to, when what it says changes: a router takes the newest of several.
    private func updateClusterGauges(_ report: StatusReport, _ exported: inout Exported) {
        registry.makeGauge(descriptor: MetricNames.requestsQueued).set(Int64(report.queue.waiting))
        registry.makeGauge(descriptor: MetricNames.requestsRunning).set(Int64(report.models.reduce(0) { $0 + $1.inFlight }))
        registry.makeGauge(descriptor: MetricNames.memoryUsedRatio).set(Residency.usedRatio(report))
        registry.makeGauge(descriptor: MetricNames.memoryLoadable).set(report.devices.map(\.freeForPlanning).max() ?? 0)
        let residency = Residency(report)
        guard exported.residency?.value != residency else { return }
        if let old = exported.residency { registry.unregisterGauge(old.gauge) }
        let gauge = registry.makeGauge(descriptor: MetricNames.modelResidency, labels: residency.labels)
        gauge.set(report.generatedAt)
        exported.residency = (gauge, residency, report.generatedAt)
    }

    /// Adds to a counter what the scheduler's count grew by since the last scrape.
    private func advance(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], to value: Int, _ counters: inout [String: Int]) {
        let key = descriptor.name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
        let delta = value - (counters[key] ?? 0)
        // A count that went down (a model removed and added back) starts over without going back.
        if delta > 0 { counter.increment(by: Int64(delta)) }
        counters[key] = value
    }
}
