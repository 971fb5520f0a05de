@testable import Broker
import Testing
import VRAMConfig
import VRAMPolicy

/// The scheduler's concerns that hold state of their own, each on its own: the bounded queue,
/// the health-check count, the prewarm memory and the wait room's timers. Their use inside the
/// scheduler is tested through it (WaitDeadlineTests, LoadingTests, PrewarmTests, HealthTests).
@Suite struct SchedulingPartsTests {
    @Test func admissionRefusesPastItsLimitAndCountsPerModel() {
        var admission = Admission(limit: 3)
        let tickets = [admission.enter("a"), admission.enter("b"), admission.enter("a")]
        #expect(tickets == [1, 2, 3], "tickets follow arrival")
        let fourth = admission.enter("c")
        #expect(fourth == nil, "the fourth is refused")
        #expect(admission.total == 3 && admission.perModel == ["a": 2, "b": 1])
        admission.leave("a")
        admission.leave("b")
        #expect(admission.perModel == ["a": 1], "a model with nobody inside is not listed")
        let again = admission.enter("c")
        #expect(again == 4, "room again after leaving; tickets keep rising")
    }

    @Test func twoFailedChecksInARowFailAnIdleModel() {
        var watch = BackendWatch()
        let step1 = watch.checked("m", healthy: false, idle: true)
        #expect(step1 == (1, false))
        let step2 = watch.checked("m", healthy: true, idle: true)
        #expect(step2 == (0, false), "a pass starts the count again")
        let step3 = watch.checked("m", healthy: false, idle: true)
        #expect(step3 == (1, false))
        let step4 = watch.checked("other", healthy: false, idle: true)
        #expect(step4 == (1, false), "counted per model")
        let step5 = watch.checked("m", healthy: false, idle: true)
        #expect(step5 == (2, true))
        let step6 = watch.checked("m", healthy: false, idle: true)
        #expect(step6 == (1, false), "counting starts again after it is marked")
    }

    @Test func aBusyModelIsNotFailedByItsHealthCheck() {
        var watch = BackendWatch()
        _ = watch.checked("m", healthy: false, idle: true)
        let step7 = watch.checked("m", healthy: false, idle: false)
        #expect(step7 == (2, false), "serving: left alone")
        let step8 = watch.checked("m", healthy: false, idle: true)
        #expect(step8 == (3, true), "idle again and still failing")
    }

    @Test func aForgottenBackendIsWatchedAndCountedAfresh() {
        var watch = BackendWatch()
        var watchers = 0
        watch.watchExits(of: "m") { watchers += 1; return Task {} }
        watch.watchExits(of: "m") { watchers += 1; return Task {} }
        #expect(watchers == 1, "one watcher per backend, across its loads")
        let first = watch.checked("m", healthy: false, idle: true)
        #expect(first == (1, false))
        watch.forget("m")
        watch.watchExits(of: "m") { watchers += 1; return Task {} }
        #expect(watchers == 2, "a replaced backend gets a watcher of its own")
        let afterForget = watch.checked("m", healthy: false, idle: true)
        #expect(afterForget == (1, false), "the old backend's failures do not count against the new one")
    }

    @Test func aFileIsWarmedAgainOnlyOnceItMayHaveCooled() {
        var prewarming = Prewarming(mode: .files)
        let start = Instant(nanoseconds: 0)
        let step9 = prewarming.shouldWarm("a", now: start)
        #expect(step9)
        let step10 = prewarming.shouldWarm("a", now: start.advanced(by: .seconds(29)))
        #expect(!step10)
        let step11 = prewarming.shouldWarm("b", now: start.advanced(by: .seconds(29)))
        #expect(step11, "per file")
        let step12 = prewarming.shouldWarm("a", now: start.advanced(by: Prewarming.warmthLasts))
        #expect(step12)
    }

    @Test func prewarmingOffWarmsAndGuessesNothing() {
        var off = Prewarming(mode: .off)
        var on = Prewarming(mode: .load)
        for model in ["a", "b", "a", "b", "a", "b"] as [ModelID] {
            off.requestStarted(model)
            on.requestStarted(model)
        }
        #expect(on.likelyNext(after: "a") == "b")
        #expect(off.likelyNext(after: "a") == nil)
        let step13 = off.shouldWarm("a", now: Instant(nanoseconds: 0))
        #expect(!step13)
    }

    @Test func oneDeadlineTimerServesLaterDeadlines() {
        var room = WaitRoom()
        let now = ContinuousClock.now
        var started: [ContinuousClock.Instant] = []
        let arm = { (due: ContinuousClock.Instant) -> Task<Void, Never> in
            started.append(due)
            return Task {}
        }
        room.armDeadline(now.advanced(by: .seconds(10)), start: arm)
        room.armDeadline(now.advanced(by: .seconds(20)), start: arm)
        #expect(started.count == 1, "a timer due sooner serves the later deadline")
        room.armDeadline(now.advanced(by: .seconds(5)), start: arm)
        #expect(started == [now.advanced(by: .seconds(10)), now.advanced(by: .seconds(5))], "an earlier deadline gets its own")
        #expect(room.timersSet == 2)
        let (expired, next) = room.expire(timerDue: now.advanced(by: .seconds(5)), now: now.advanced(by: .seconds(5)))
        #expect(expired.isEmpty && next == nil, "nobody waits")
        room.armDeadline(now.advanced(by: .seconds(20)), start: arm)
        #expect(started.count == 3, "the fired timer is no longer armed")
        room.cancelTimer()
    }

    @Test func aWakeAlreadyDueByThenServesALaterOne() {
        var room = WaitRoom()
        let now = ContinuousClock.now
        let step14 = room.scheduleWake(at: now.advanced(by: .seconds(2)))
        #expect(step14)
        let step15 = room.scheduleWake(at: now.advanced(by: .seconds(3)))
        #expect(!step15)
        let step16 = room.scheduleWake(at: now.advanced(by: .seconds(1)))
        #expect(step16, "an earlier one is scheduled")
        room.wakeCame(now.advanced(by: .seconds(2)))
        let step17 = room.scheduleWake(at: now.advanced(by: .seconds(3)))
        #expect(!step17, "the earlier one is still to come")
        room.wakeCame(now.advanced(by: .seconds(1)))
        let step18 = room.scheduleWake(at: now.advanced(by: .seconds(3)))
        #expect(step18)
    }

    static func model(_ memory: String) throws -> ModelConfig {
        try #require(try Config.parse(yaml: "models:\n  m: {kind: llm, memory: \(memory)}\n", file: "/v.yaml").models.first)
    }

    /// A reload while a process runs (or starts, or stops) changes the config at once but not
    /// what the process goes by; the new backend waits until nothing runs.
    @Test(arguments: [ModelState.ready, .loading, .unloading])
    func aReconfiguredRunningModelKeepsItsServingConfigUntilNothingRuns(state: ModelState) throws {
        let old = try Self.model("1GiB"), new = try Self.model("2GiB")
        var runtime = ModelRuntime(config: old, backend: nil, footprint: 1, source: .declared)
        runtime.state = state
        runtime.reconfigure(new, backend: ModelRuntime.PendingBackend(backend: nil))
        #expect(runtime.stale && runtime.config == new && runtime.servingConfig == old)
        #expect(runtime.nextBackend != nil, "a new config without a backend is still a change")
        runtime.state = .unloaded
        let adopted = runtime.adoptNextBackend()
        #expect(adopted)
        #expect(!runtime.stale && runtime.servingConfig == new && runtime.nextBackend == nil)
    }

    @Test(arguments: [ModelState.unloaded, .failed])
    func aReconfiguredIdleModelTakesItAllAtOnce(state: ModelState) throws {
        let old = try Self.model("1GiB"), new = try Self.model("2GiB")
        var runtime = ModelRuntime(config: old, backend: nil, footprint: 1, source: .declared)
        runtime.state = state
        runtime.reconfigure(new, backend: ModelRuntime.PendingBackend(backend: nil))
        #expect(!runtime.stale && runtime.servingConfig == new && runtime.nextBackend == nil)
        let adopted = runtime.adoptNextBackend()
        #expect(!adopted, "nothing left to adopt")
    }
}
