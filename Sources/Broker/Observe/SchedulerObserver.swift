import Logging
import VRAMPolicy

/// What the scheduler tells the outside while it works: events for `/v1/events` and the page,
/// and the observations behind the `/metrics` histograms.
///
/// The scheduler calls it synchronously from its actor at each load, eviction, swap, failure and
/// request start; nothing here waits.
public final class SchedulerObserver: Sendable {
    /// The event feed (`GET /v1/events`).
    public let events: EventBus
    /// The Prometheus metrics (`GET /metrics`).
    public let metrics: BrokerMetrics

    public init(events: EventBus = EventBus(), metrics: BrokerMetrics = BrokerMetrics()) {
        self.events = events
        self.metrics = metrics
    }

    func publish(_ event: BrokerEvent) {
        let numbered = events.publish(event)
        metrics.record(numbered)
    }

    func requestStarted(_ model: ModelID, waited: Duration) {
        metrics.recordQueueWait(waited)
    }
}
