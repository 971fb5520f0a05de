import Foundation
import Synchronization

/// Keeps the last events and hands them to every subscriber, oldest first, then live.
///
/// The scheduler publishes from inside its actor, so ``publish(_:)`` is synchronous and never
/// waits on a subscriber: each subscriber has its own bounded buffer, and one that reads too
/// slowly loses its oldest unread events rather than slowing the scheduler down.
public final class EventBus: Sendable {
    private struct State {
        var ring: [BrokerEvent] = []
        var nextID = 1
        var subscribers: [Int: AsyncStream<BrokerEvent>.Continuation] = [:]
        var nextSubscriber = 0
    }

    /// How many events are kept for new subscribers.
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 200) {
        self.capacity = max(1, capacity)
    }

    /// Numbers the event, keeps it, and sends it to every subscriber.
    @discardableResult
    public func publish(_ event: BrokerEvent) -> BrokerEvent {
        var event = event
        event.time = Date().timeIntervalSince1970
        return state.withLock { state in
            event.id = state.nextID
            state.nextID += 1
            state.ring.append(event)
            if state.ring.count > capacity { state.ring.removeFirst(state.ring.count - capacity) }
            // Yielding under the lock keeps every subscriber's order the ring's order, and a
            // subscription taken meanwhile sees the event either in its replay or live, never both.
            for continuation in state.subscribers.values { continuation.yield(event) }
            return event
        }
    }

    /// The kept events, oldest first.
    public var recent: [BrokerEvent] { state.withLock { $0.ring } }

    /// The kept events newer than `lastID` (all of them when `nil`), then every new one.
    ///
    /// The stream ends when the subscriber stops iterating or ``finishAll()`` is called.
    public func subscribe(after lastID: Int? = nil) -> AsyncStream<BrokerEvent> {
        subscription(after: lastID).events
    }

    /// ``subscribe(after:)``, with a way for the subscriber to end the stream itself: after
    /// `end()`, the events already published are still delivered, then the stream ends. A
    /// subscriber that must see everything published before some point calls it at that point
    /// and reads to the end.
    public func subscription(after lastID: Int? = nil) -> (events: AsyncStream<BrokerEvent>, end: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: BrokerEvent.self, bufferingPolicy: .bufferingNewest(capacity * 2))
        let id = state.withLock { state in
            for event in state.ring where event.id > (lastID ?? 0) { continuation.yield(event) }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return (stream, { continuation.finish() })
    }

    /// The number of live subscribers (tests wait for a subscription to be in place).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every subscription (shutdown), so open `/v1/events` responses complete.
    public func finishAll() {
        // Finished outside the lock: finishing runs `onTermination`, which takes the lock.
        let all = state.withLock { state in
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for continuation in all { continuation.finish() }
    }
}
