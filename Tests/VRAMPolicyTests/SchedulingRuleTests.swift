import Testing
@testable import VRAMPolicy

/// The scheduler's rules outside the planner: queue order, the swap quantum, which loads may run
/// at once, and one request at a time on a serialized device. Time is passed in.
struct SchedulingRuleTests {
    @Test func requestsAreServedByPriorityThenArrival() {
        var queue = RequestQueue()
        // Scripted arrivals: ticket = arrival order.
        for (ticket, priority) in [(1, 0), (2, 2), (3, 0), (4, 2), (5, 1), (6, 4)] {
            queue.enqueue(ticket: ticket, priority: priority)
        }
        #expect(queue.entries.map(\.ticket) == [6, 2, 4, 5, 1, 3])
        #expect(queue.isFirst(6) && !queue.isFirst(2) && !queue.isFirst(99))
        #expect(RequestQueue().isFirst(99), "with nobody in line, any request is first")
        queue.remove(ticket: 6)
        #expect(queue.isFirst(2) && queue.count == 5)
        queue.remove(ticket: 42)
        #expect(queue.count == 5)
    }

    @Test(arguments: 0..<50)
    func theQueueOrderIsTheSortedOrderWhateverTheArrivals(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var queue = RequestQueue()
        var entries: [RequestQueue.Entry] = []
        for ticket in 1...40 {
            if random.next() % 4 == 0, let gone = entries.randomElement(using: &random) {
                queue.remove(ticket: gone.ticket)
                entries.removeAll { $0 == gone }
            }
            let entry = RequestQueue.Entry(ticket: ticket, priority: Int(random.next() % 5))
            queue.enqueue(ticket: entry.ticket, priority: entry.priority)
            entries.append(entry)
        }
        #expect(queue.entries == entries.sorted(by: RequestQueue.servedBefore))
    }

    @Test func aResidentModelServesItsQuantumBeforeItYields() {
        let quantum = SwapQuantum(requests: 2, time: .seconds(2))
        var standing = SwapQuantum.Standing()
        quantum.requestStarted(&standing)  // served one since its load, before any contention
        let t0 = Instant.seconds(10)
        #expect(quantum.judge(&standing, queued: true, priority: 1, targetPriority: 1, now: t0) == .holds(until: .seconds(12)))
        #expect(standing.since == t0 && !standing.draining)
        quantum.requestStarted(&standing)
        #expect(quantum.judge(&standing, queued: true, priority: 1, targetPriority: 1, now: .seconds(10.5)) == .holds(until: .seconds(12)))
        quantum.requestStarted(&standing)
        #expect(standing.draining, "the request that spends the quantum makes it drain")
        #expect(quantum.judge(&standing, queued: true, priority: 1, targetPriority: 1, now: .seconds(10.6)) == .spent)
        standing.endContention()
        #expect(standing.since == nil && standing.served == 0 && !standing.draining)
    }

    @Test func aQuantumRunsOutWithTime() {
        let quantum = SwapQuantum(requests: 100, time: .seconds(2))
        var standing = SwapQuantum.Standing()
        #expect(quantum.judge(&standing, queued: true, priority: 0, targetPriority: 0, now: .seconds(1)) == .holds(until: .seconds(3)))
        #expect(quantum.judge(&standing, queued: true, priority: 0, targetPriority: 0, now: .seconds(2.99)) == .holds(until: .seconds(3)))
        #expect(quantum.judge(&standing, queued: true, priority: 0, targetPriority: 0, now: .seconds(3)) == .spent)
        #expect(standing.draining)
    }

    @Test func theQuantumAppliesOnlyToQueuedModelsAgainstLoadsTheyOutrankOrEqual() {
        let quantum = SwapQuantum(requests: 4, time: .seconds(2))
        var standing = SwapQuantum.Standing()
        #expect(quantum.judge(&standing, queued: false, priority: 1, targetPriority: 0, now: .seconds(1)) == nil)
        #expect(quantum.judge(&standing, queued: true, priority: 1, targetPriority: 2, now: .seconds(1)) == nil)
        #expect(standing.since == nil, "no contention began")
    }

    @Test func aModelThatServedNobodySinceItsLoadHoldsItsPlaceUntilItsTime() {
        // A quantum of 0 is spent at once, but not before the model has served one request:
        // otherwise two models could swap each other out forever.
        let quantum = SwapQuantum(requests: 0, time: .seconds(2))
        var standing = SwapQuantum.Standing()
        #expect(quantum.judge(&standing, queued: true, priority: 0, targetPriority: 0, now: .seconds(1)) == .holds(until: .seconds(3)))
        quantum.requestStarted(&standing)
        #expect(quantum.judge(&standing, queued: true, priority: 0, targetPriority: 0, now: .seconds(1.1)) == .spent)
        standing.loaded()
        #expect(standing.servedSinceLoad == 0 && standing.since == nil)
    }

    @Test func loadsThatShareADeviceOrAGroupRunOneAtATime() throws {
        var scenario = Scenario(devices: [DeviceSpec(id: "gpu0", capacity: 8 * GB), DeviceSpec(id: "gpu1", capacity: 8 * GB)], models: [
            ModelSpec(id: "a", kind: .llm, memory: 6 * GB, device: "gpu0"),
            ModelSpec(id: "b", kind: .llm, memory: 6 * GB, device: "gpu0"),
            ModelSpec(id: "c", kind: .llm, memory: 2 * GB, device: "gpu1"),
            ModelSpec(id: "flux", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion", device: "gpu0"),
            ModelSpec(id: "sdxl", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion", device: "gpu1"),
        ])
        try scenario.load("a")
        let b = try #require(scenario.plan("b").loadPlan)  // evicts a on gpu0
        let c = try #require(scenario.plan("c").loadPlan)
        let sdxl = try #require(scenario.plan("sdxl").loadPlan)
        var gate = LoadGate()
        gate.begin(b, group: nil)
        #expect(!gate.mayStart(b, group: nil), "its device is held")
        #expect(gate.mayStart(c, group: nil), "another device is not")
        gate.begin(sdxl, group: "diffusion")
        let flux = try #require(scenario.plan("flux").loadPlan)
        #expect(!gate.mayStart(flux, group: "diffusion"))
        gate.end(b, group: nil)
        #expect(!gate.mayStart(flux, group: "diffusion"), "its group member is still loading on gpu1")
        gate.end(sdxl, group: "diffusion")
        #expect(gate.mayStart(flux, group: "diffusion") && gate.devices.isEmpty && gate.groups.isEmpty)
    }

    @Test func aSerializedDeviceRunsOneRequestAtATime() {
        var slots = DeviceSlots(serialized: ["gpu0"])
        #expect(slots.isFree("gpu0") && slots.isFree("gpu1") && slots.isFree(nil))
        slots.start(on: "gpu0")
        slots.start(on: "gpu1")
        slots.start(on: "gpu1")
        #expect(!slots.isFree("gpu0") && slots.isFree("gpu1"))
        slots.end(on: "gpu0")
        #expect(slots.isFree("gpu0"))
        slots.end(on: "gpu0")
        #expect(slots.serving["gpu0"] == nil, "never below zero")
        slots.serialized = []
        slots.start(on: "gpu0")
        #expect(slots.isFree("gpu0"), "a device no longer serialized")
    }
}

/// What a node tells a router it could still take without evicting anything.
struct FitCountTests {
    @Test func theSmallestModelsArePackedFirst() {
        #expect(FitCount.additional(sizes: [], free: [8 * GB]) == 0)
        #expect(FitCount.additional(sizes: [5 * GB, 1 * GB, 2 * GB], free: [4 * GB]) == 2)
        #expect(FitCount.additional(sizes: [3 * GB, 3 * GB, 3 * GB], free: [4 * GB, 4 * GB]) == 2)
        #expect(FitCount.additional(sizes: [3 * GB], free: []) == 0)
        #expect(FitCount.additional(sizes: [1 * GB, 1 * GB], free: [-1, 2 * GB]) == 2)
    }
}

/// The minimum residency holds only for a model whose requests overlap with another model's
/// load: scripted arrivals of a lone client alternating, and of two clients competing.
struct ContentionTests {
    @Test func aLoneClientAlternatingNeverContends() throws {
        var s = Scenario(capacity: 8 * GB, models: [
            ModelSpec(id: "a", kind: .llm, memory: 6 * GB), ModelSpec(id: "b", kind: .llm, memory: 6 * GB),
        ], options: PolicyOptions(minResidency: .seconds(5)))
        let contention = Contention()
        // a, b, a, b, one second apart: each request ends before the next arrives, so no load
        // ever waits on the model in memory.
        try s.load("a")
        for (next, current) in [("b", "a"), ("a", "b"), ("b", "a")] as [(ModelID, ModelID)] {
            #expect(!contention.requestArrives(for: next))
            let plan = try #require(s.ledger.plan(load: next, at: s.now.advanced(by: .seconds(1))).loadPlan, "\(next) waited")
            #expect(plan.evictions.map(\.model) == [current])
            try s.load(next)
        }
    }

    @Test func overlappingRequestsMakeTheResidentModelWaitItsTurn() throws {
        var s = Scenario(capacity: 8 * GB, models: [
            ModelSpec(id: "a", kind: .llm, memory: 6 * GB), ModelSpec(id: "b", kind: .llm, memory: 6 * GB),
        ], options: PolicyOptions(minResidency: .seconds(5)))
        var contention = Contention()
        try s.load("a")
        let start = s.now
        // Client 1 is being served by a when client 2 asks for b: b's load waits on a.
        try s.ledger.beginRequest("a", at: start)
        let busy = try #require(s.ledger.plan(load: "b", at: start).waitPlan)
        #expect(busy.waitingFor.map(\.model) == ["a"])
        let queuedAlready = contention.loadWaits(on: "a", queued: false)
        #expect(!queuedAlready)
        // Client 1's next request for a arrives while b's load waits: they overlap.
        try s.ledger.endRequest("a", at: start.advanced(by: .milliseconds(100)))
        if contention.requestArrives(for: "a") { try s.ledger.markContended("a") }
        #expect(s.ledger.resident("a")?.contended == true)
        let held = try #require(s.ledger.plan(load: "b", at: start.advanced(by: .seconds(1))).waitPlan)
        #expect(held.waitingFor.map(\.model) == ["a"] && held.waitingFor.first?.reason == .minResidency(remaining: .seconds(4)))
        contention.loadStopsWaiting(on: "a")
        #expect(contention.waitedOn.isEmpty && !contention.requestArrives(for: "a"))
    }

    @Test func theMinimumResidencyCountsFromReadyNotFromTheLoadsStart() throws {
        var s = Scenario(capacity: 8 * GB, models: [
            ModelSpec(id: "a", kind: .llm, memory: 6 * GB), ModelSpec(id: "b", kind: .llm, memory: 6 * GB),
        ], options: PolicyOptions(minResidency: .seconds(5)))
        try s.load("a")
        try s.ledger.markContended("a")
        // The load took 4 s: a is ready at +4 s and keeps its place until +9 s.
        try s.ledger.markReady("a", at: s.now.advanced(by: .seconds(4)))
        let held = try #require(s.ledger.plan(load: "b", at: s.now.advanced(by: .seconds(6))).waitPlan)
        #expect(held.waitingFor.first?.reason == .minResidency(remaining: .seconds(3)))
        #expect(s.ledger.plan(load: "b", at: s.now.advanced(by: .seconds(9))).loadPlan != nil)
    }

    @Test func requestsAlreadyQueuedWhenALoadBeginsToWaitContend() {
        var contention = Contention()
        let first = contention.loadWaits(on: "a", queued: true)
        let second = contention.loadWaits(on: "a", queued: false)
        #expect(first && !second)
        contention.loadStopsWaiting(on: "a")
        #expect(contention.requestArrives(for: "a"), "one load still waits")
        contention.loadStopsWaiting(on: "a")
        #expect(!contention.requestArrives(for: "a"))
    }
}

/// Which model usually comes next, learned from the order requests start in.
struct SuccessorsTests {
    @Test func aVoiceTurnIsLearnedModelByModel() {
        var successors = Successors()
        for _ in 0..<3 {
            for model in ["whisper", "gemma", "piper"] as [ModelID] { successors.started(model) }
        }
        #expect(successors.likelyNext(after: "whisper") == "gemma")
        #expect(successors.likelyNext(after: "gemma") == "piper")
        #expect(successors.likelyNext(after: "piper") == "whisper")
        #expect(successors.likelyNext(after: "embed") == nil)
    }

    @Test func onceIsNotAHabitAndNeitherIsAMinority() {
        var successors = Successors()
        for model in ["a", "b", "a", "a"] as [ModelID] { successors.started(model) }
        #expect(successors.likelyNext(after: "a") == nil, "b followed a once; repeats of a count for nothing")
        for model in ["c", "a", "d", "a", "c", "a", "d", "a", "e"] as [ModelID] { successors.started(model) }
        // After a: b once, c once, d twice, e once: d is the most, but not half.
        #expect(successors.counts["a"]?["d"] == 2)
        #expect(successors.likelyNext(after: "a") == nil)
    }
}
