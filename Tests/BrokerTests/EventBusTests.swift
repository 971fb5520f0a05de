import Testing
@testable import Broker

@Suite struct EventBusTests {
    @Test func numbersEventsAndKeepsOnlyTheLastOnes() {
        let bus = EventBus(capacity: 3)
        for index in 1...5 { bus.publish(BrokerEvent(kind: .loaded, model: "m\(index)")) }
        #expect(bus.recent.map(\.id) == [3, 4, 5])
        #expect(bus.recent.map(\.model) == ["m3", "m4", "m5"])
        #expect(bus.recent.allSatisfy { $0.time > 0 })
    }

    @Test(.timeLimit(.minutes(1)))
    func aNewSubscriberGetsTheKeptEventsFirstThenLiveOnes() async {
        let bus = EventBus(capacity: 10)
        bus.publish(BrokerEvent(kind: .loadStarted, model: "a"))
        bus.publish(BrokerEvent(kind: .loaded, model: "a"))
        var iterator = bus.subscribe().makeAsyncIterator()
        bus.publish(BrokerEvent(kind: .evicted, model: "a", rule: "lower_or_same_tier", target: "b"))
        var seen: [BrokerEvent] = []
        for _ in 0..<3 { if let event = await iterator.next() { seen.append(event) } }
        #expect(seen.map(\.kind) == [.loadStarted, .loaded, .evicted])
        #expect(seen.map(\.id) == [1, 2, 3])
        #expect(seen.last?.rule == "lower_or_same_tier")
    }

    @Test(.timeLimit(.minutes(1)))
    func resumesAfterTheLastEventIDAndEndsOnFinish() async {
        let bus = EventBus()
        for model in ["a", "b", "c"] { bus.publish(BrokerEvent(kind: .loaded, model: model)) }
        let stream = bus.subscribe(after: 2)
        #expect(bus.subscriberCount == 1)
        bus.finishAll()
        var models: [String] = []
        for await event in stream { models.append(event.model) }
        #expect(models == ["c"])
        #expect(bus.subscriberCount == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func aSubscriberThatStopsIsForgotten() async {
        let bus = EventBus()
        do {
            var iterator = bus.subscribe().makeAsyncIterator()
            bus.publish(BrokerEvent(kind: .loaded, model: "a"))
            _ = await iterator.next()
        }
        // The iterator is gone: its stream terminated and unsubscribed.
        #expect(bus.subscriberCount == 0)
    }

    @Test func eventsEncodeWithTheirWireNames() throws {
        var event = BrokerEvent(kind: .evicted, model: "whisper", device: "gpu0", bytes: 4 << 30, rule: "upward_last_resort", target: "llm")
        event.id = 7
        let json = String(decoding: try StatusReport.encoder.encode(event), as: UTF8.self)
        #expect(json.contains(#""for":"llm""#) && json.contains(#""kind":"evicted""#) && json.contains(#""rule":"upward_last_resort""#))
        let frame = String(buffer: ServerSentEvents.frame(event))
        #expect(frame.hasPrefix("id: 7\nevent: evicted\ndata: {") && frame.hasSuffix("}\n\n"))
        #expect(event.summary == "evicted whisper for llm (upward_last_resort)")
    }
}
