import Testing
@testable import VRAMPolicy

/// The cases the seeds do not cover, one rule at a time.
@Suite struct RuleTests {
    // MARK: Rule 3: exclusive groups

    @Test func exclusiveGroupEvictsTheMemberEvenWithRoomToSpare() throws {
        var s = Scenario(models: [
            ModelSpec(id: "flux", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion"),
            ModelSpec(id: "sdxl", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion"),
        ])
        try s.load("flux")
        let plan = try #require(s.plan("sdxl").loadPlan)
        #expect(plan.evictions.map(\.model) == ["flux"])
        #expect(plan.evictions.first?.reason == .exclusiveGroup("diffusion"))
    }

    @Test func exclusiveGroupWaitsForABusyMember() throws {
        var s = Scenario(models: [
            ModelSpec(id: "flux", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion"),
            ModelSpec(id: "sdxl", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion"),
        ])
        try s.load("flux")
        try s.ledger.beginRequest("flux", at: s.now)
        let wait = try #require(s.plan("sdxl").waitPlan)
        #expect(wait.waitingFor.map(\.model) == ["flux"])
        #expect(wait.waitingFor.first?.reason == .busy(inFlight: 1))
    }

    @Test func exclusiveGroupRejectsWhenThePinnedMemberHoldsIt() throws {
        var s = Scenario(models: [
            ModelSpec(id: "flux", kind: .image, memory: 2 * GB, pinned: true, exclusiveGroup: "diffusion"),
            ModelSpec(id: "sdxl", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion"),
        ])
        try s.load("flux")
        let rejection = try #require(s.plan("sdxl").rejection)
        guard case .notAllowed(let rule, let detail) = rejection.reason else {
            Issue.record("expected notAllowed, got \(rejection)")
            return
        }
        #expect(rule == "exclusive_group")
        #expect(detail.contains("pinned"))
    }

    @Test func exclusiveGroupSpansDevices() throws {
        var s = Scenario(devices: [DeviceSpec(id: "gpu0", capacity: 8 * GB), DeviceSpec(id: "gpu1", capacity: 8 * GB)], models: [
            ModelSpec(id: "flux", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion", device: "gpu0"),
            ModelSpec(id: "sdxl", kind: .image, memory: 2 * GB, exclusiveGroup: "diffusion", device: "gpu1"),
        ])
        try s.load("flux")
        let plan = try #require(s.plan("sdxl").loadPlan)
        #expect(plan.device == "gpu1")
        #expect(plan.evictions.map(\.device) == ["gpu0"])
        #expect(plan.freeAfter == 6 * GB, "the member's memory on the other device does not count here")
    }

    // MARK: Rule 2: coexistence, pinned, guaranteed

    @Test func coexistingModelIsNeverChosen() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "ollama", kind: .llm, memory: 4 * GB),
            ModelSpec(id: "comfy", kind: .image, memory: 4 * GB),
            ModelSpec(id: "mvoice", kind: .tts, memory: 3 * GB, coexistsWith: ["ollama"]),
        ])
        try s.load("ollama")   // least recently used
        try s.load("comfy")
        #expect(try s.load("mvoice") == ["comfy"])
        #expect(s.isLoaded("ollama"))
    }

    @Test func rejectsWhenOnlyProtectedModelsCouldMakeRoom() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "pinned", kind: .llm, memory: 4 * GB, pinned: true),
            ModelSpec(id: "partner", kind: .llm, memory: 4 * GB),
            ModelSpec(id: "big", kind: .tts, memory: 6 * GB, coexistsWith: ["partner"]),
        ])
        try s.load("pinned")
        try s.load("partner")
        let rejection = try #require(s.plan("big").rejection)
        guard case .blockedByProtected(_, let needed, let freeable, let protected) = rejection.reason else {
            Issue.record("expected blockedByProtected, got \(rejection)")
            return
        }
        #expect(needed == 6 * GB)
        #expect(freeable == 2 * GB)
        #expect(protected.map(\.rule) == ["coexists_with", "pinned"])
        #expect(!rejection.retryable)
    }

    @Test func guaranteedModelIsNeverAVictimAndItsRejectionIsRetryable() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "realtime", kind: .llm, memory: 6 * GB, qos: .guaranteed),
            ModelSpec(id: "other", kind: .stt, memory: 6 * GB),
        ])
        try s.load("realtime")
        let rejection = try #require(s.plan("other").rejection)
        #expect(rejection.retryable)
    }

    // MARK: Rule 4: best effort, waiting instead of evicting upward

    @Test func bestEffortGoesBeforeAnyTier() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "scratch", kind: .stt, memory: 4 * GB, qos: .bestEffort),
            ModelSpec(id: "llm-a", kind: .llm, memory: 4 * GB),
            ModelSpec(id: "llm-b", kind: .llm, memory: 4 * GB),
        ])
        try s.load("llm-a")
        try s.load("scratch")   // more recently used and a higher tier, but best effort
        let plan = try #require(s.plan("llm-b").loadPlan)
        #expect(plan.evictions.map(\.model) == ["scratch"])
        #expect(plan.evictions.first?.reason == .bestEffort)
    }

    @Test func waitsForABusyLowerTierRatherThanEvictingAHigherOne() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "asr", kind: .stt, memory: 4 * GB),
            ModelSpec(id: "llm-a", kind: .llm, memory: 6 * GB),
            ModelSpec(id: "llm-b", kind: .llm, memory: 6 * GB),
        ])
        try s.load("asr")
        try s.load("llm-a")
        try s.ledger.beginRequest("llm-a", at: s.now)
        let wait = try #require(s.plan("llm-b").waitPlan)
        #expect(wait.waitingFor.map(\.model) == ["llm-a"])
        try s.ledger.endRequest("llm-a", at: s.now)
        #expect(s.plan("llm-b").loadPlan?.evictions.map(\.model) == ["llm-a"])
    }

    @Test func evictsUpwardWhenWaitingWouldNotHelp() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "asr", kind: .stt, memory: 4 * GB),
            ModelSpec(id: "tts", kind: .tts, memory: 2 * GB),
            ModelSpec(id: "llm-a", kind: .llm, memory: 3 * GB),
            ModelSpec(id: "llm-b", kind: .llm, memory: 8 * GB),
        ])
        for m: ModelID in ["asr", "tts", "llm-a"] { try s.load(m) }
        try s.ledger.beginRequest("llm-a", at: s.now)
        // llm-a alone (3 GB) would not make room for 8 GB, so waiting for it does not do.
        let decision = s.plan("llm-b")
        #expect(decision.waitPlan?.waitingFor.map(\.model) == ["llm-a"], "llm-a is busy and needed in any case")
        try s.ledger.endRequest("llm-a", at: s.now)
        let plan = try #require(s.plan("llm-b").loadPlan)
        #expect(plan.evictions.map(\.model) == ["llm-a", "asr"])
    }

    @Test func upwardEvictionNeverRejectsInsteadOfEvictingHigherTiers() throws {
        var s = Scenario(models: seedCast, options: PolicyOptions(upwardEviction: .never))
        for m: ModelID in ["cohere-transcribe", "chatterbox-multilingual", "qwen3.5-4b"] { try s.load(m) }
        let rejection = try #require(s.plan("gpt-oss-20b").rejection)
        guard case .blockedByProtected(_, _, _, let protected) = rejection.reason else {
            Issue.record("expected blockedByProtected, got \(rejection)")
            return
        }
        #expect(Set(protected.map(\.rule)) == ["upward_eviction: never"])
        #expect(Set(protected.map(\.model)) == ["cohere-transcribe", "chatterbox-multilingual"])
    }

    // MARK: Min residency

    @Test func justLoadedModelIsSafeFromItsOwnTierOnlyWhenContended() throws {
        var s = Scenario(capacity: 8 * GB, models: [
            ModelSpec(id: "llm-a", kind: .llm, memory: 6 * GB),
            ModelSpec(id: "llm-b", kind: .llm, memory: 6 * GB),
        ], options: PolicyOptions(minResidency: .seconds(5)))
        try s.load("llm-a")
        // Nobody else wants llm-a: a lone client alternating between models never waits.
        #expect(s.ledger.plan(load: "llm-b", at: s.now.advanced(by: .seconds(2))).loadPlan?.evictions.map(\.model) == ["llm-a"])
        try s.ledger.markContended("llm-a")
        let wait = try #require(s.ledger.plan(load: "llm-b", at: s.now.advanced(by: .seconds(2))).waitPlan)
        #expect(wait.waitingFor.first?.reason == .minResidency(remaining: .seconds(3)))
        #expect(s.ledger.plan(load: "llm-b", at: s.now.advanced(by: .seconds(5))).loadPlan != nil)
    }

    @Test func higherPriorityRequesterIgnoresMinResidency() throws {
        var s = Scenario(capacity: 8 * GB, models: [
            ModelSpec(id: "llm", kind: .llm, memory: 6 * GB),
            ModelSpec(id: "asr", kind: .stt, memory: 6 * GB),
        ])
        try s.load("llm")
        try s.ledger.markContended("llm")
        let plan = try #require(s.ledger.plan(load: "asr", at: s.now).loadPlan)
        #expect(plan.evictions.map(\.model) == ["llm"])
    }

    // MARK: Rule 6: reservations, cushion, foreign

    @Test func reservationsOfOthersAreNotPlannedInto() throws {
        var s = Scenario(capacity: 16 * GB, cushion: 1 * GB, models: [
            ModelSpec(id: "realtime", kind: .tts, memory: 5 * GB, qos: .guaranteed),
            ModelSpec(id: "burst", kind: .stt, memory: 4 * GB, reserve: 2 * GB),
            ModelSpec(id: "llm", kind: .llm, memory: 9 * GB),
        ])
        #expect(s.ledger.freeForPlanning(on: "gpu0", for: "llm") == 16 * GB - 1 * GB - 5 * GB - 2 * GB)
        #expect(s.ledger.freeForPlanning(on: "gpu0", for: "realtime") == 16 * GB - 1 * GB - 2 * GB)
        try s.ledger.setForeign(1 * GB, on: "gpu0")
        let rejection = try #require(s.plan("llm").rejection)
        #expect(rejection.reason == .neverFits(device: "gpu0", needed: 9 * GB, available: 7 * GB))
        try s.load("realtime")   // its reservation becomes its residence
        #expect(s.free() == 16 * GB - 1 * GB - 1 * GB - 5 * GB - 2 * GB)
        try s.load("burst")
        #expect(s.free() == 16 * GB - 1 * GB - 1 * GB - 5 * GB - 4 * GB)
    }

    @Test func evictingABurstableModelLeavesItsReserveBehind() throws {
        var s = Scenario(capacity: 10 * GB, models: [
            ModelSpec(id: "burst", kind: .llm, memory: 6 * GB, reserve: 2 * GB),
            ModelSpec(id: "other", kind: .llm, memory: 4 * GB),
            ModelSpec(id: "big", kind: .llm, memory: 7 * GB),
        ])
        try s.load("burst")
        try s.load("other")
        // Evicting burst gives back 4 GB (6 less its 2 GB reserve), so both must go for 7 GB.
        let plan = try #require(s.plan("big").loadPlan)
        #expect(plan.evictions.map(\.model) == ["burst", "other"])
        #expect(plan.evictions.map(\.freed) == [4 * GB, 4 * GB])
        #expect(plan.freeAfter == 1 * GB)
    }

    @Test func footprintUpdatesMoveTheCountedBytes() throws {
        var s = Scenario(models: [ModelSpec(id: "m", kind: .llm, memory: 4 * GB, qos: .guaranteed)])
        try s.ledger.updateFootprint("m", bytes: 5 * GB)
        #expect(s.free() == 11 * GB, "the guaranteed reservation follows the footprint")
        try s.load("m")
        try s.ledger.updateFootprint("m", bytes: 6 * GB)
        #expect(s.free() == 10 * GB)
    }

    // MARK: Rule 1: placement

    @Test func placementPrefersNoEvictionThenMostFree() throws {
        var s = Scenario(devices: [
            DeviceSpec(id: "gpu0", capacity: 8 * GB), DeviceSpec(id: "gpu1", capacity: 8 * GB), DeviceSpec(id: "gpu2", capacity: 12 * GB),
        ], models: [
            ModelSpec(id: "a", kind: .llm, memory: 7 * GB, device: "gpu0"),
            ModelSpec(id: "b", kind: .llm, memory: 2 * GB, device: "gpu1"),
            ModelSpec(id: "c", kind: .llm, memory: 8 * GB, device: "gpu2"),
            ModelSpec(id: "x", kind: .llm, memory: 4 * GB),
            ModelSpec(id: "y", kind: .llm, memory: 7 * GB),
        ])
        for m: ModelID in ["a", "b", "c"] { try s.load(m) }
        // x fits on gpu1 (6 free) and gpu2 (4 free) without eviction: the most free wins.
        #expect(s.plan("x").loadPlan.map { [$0.device.rawValue] + $0.evictions.map(\.model.rawValue) } == ["gpu1"])
        // y fits nowhere without eviction; the fewest bytes evicted wins (b on gpu1, 2 GB).
        let plan = try #require(s.plan("y").loadPlan)
        #expect(plan.device == "gpu1")
        #expect(plan.evictions.map(\.model) == ["b"])
    }

    @Test func explicitDeviceIsHonouredAndUnknownOnesRejected() throws {
        let s = Scenario(devices: [DeviceSpec(id: "gpu0", capacity: 8 * GB), DeviceSpec(id: "gpu1", capacity: 8 * GB)], models: [
            ModelSpec(id: "m", kind: .llm, memory: 4 * GB, device: "gpu1"),
            ModelSpec(id: "lost", kind: .llm, memory: 4 * GB, device: "gpu9"),
        ])
        #expect(s.plan("m").loadPlan?.device == "gpu1")
        #expect(s.plan("lost").rejection?.reason == .unknownDevice("gpu9"))
        #expect(s.plan("nobody").rejection?.reason == .unknownModel)
    }

    // MARK: Rule 7: keep-alive

    @Test func expiredListsIdleModelsPastTheirKeepAlive() throws {
        var s = Scenario(models: [
            ModelSpec(id: "short", kind: .llm, memory: 1 * GB, keepAlive: .duration(.seconds(30))),
            ModelSpec(id: "long", kind: .llm, memory: 1 * GB, keepAlive: .duration(.seconds(600))),
            ModelSpec(id: "forever", kind: .llm, memory: 1 * GB, keepAlive: .forever),
            ModelSpec(id: "zero", kind: .llm, memory: 1 * GB, keepAlive: .duration(.zero)),
            ModelSpec(id: "busy", kind: .llm, memory: 1 * GB, keepAlive: .duration(.zero)),
        ])
        for m: ModelID in ["short", "long", "forever", "zero", "busy"] { try s.load(m) }
        for m: ModelID in ["short", "long", "forever", "zero"] { try s.ledger.touch(m, at: s.now) }
        try s.ledger.beginRequest("busy", at: s.now)
        #expect(s.ledger.expired(at: s.now) == ["zero"])
        #expect(s.ledger.expired(at: s.now.advanced(by: .seconds(31))) == ["zero", "short"])
        #expect(s.ledger.expired(at: s.now.advanced(by: .seconds(3600))) == ["zero", "short", "long"])
        try s.ledger.endRequest("busy", at: s.now)
        #expect(s.ledger.expired(at: s.now).contains("busy"))
    }

    // MARK: Ledger

    @Test func ledgerRefusesInconsistentUpdates() throws {
        var s = Scenario(models: [ModelSpec(id: "m", kind: .llm, memory: 1 * GB)])
        #expect(throws: LedgerError.unknownModel("x")) { try s.ledger.markLoaded("x", on: "gpu0", at: s.now) }
        #expect(throws: LedgerError.unknownDevice("gpu7")) { try s.ledger.markLoaded("m", on: "gpu7", at: s.now) }
        #expect(throws: LedgerError.notResident("m")) { try s.ledger.markUnloaded("m") }
        try s.load("m")
        #expect(throws: LedgerError.alreadyResident("m", on: "gpu0")) { try s.ledger.markLoaded("m", on: "gpu0", at: s.now) }
    }

    /// A request begins and ends only on a resident model, on one device (where the ledger
    /// asks the device alone) as on several; after an unload it is refused again, and a resident
    /// on the second device is counted there.
    @Test(arguments: [1, 2])
    func requestsBeginAndEndOnlyOnResidentModels(devices: Int) throws {
        let specs = (0..<devices).map { DeviceSpec(id: DeviceID("gpu\($0)"), capacity: 16 * GB) }
        var s = Scenario(devices: specs, models: [ModelSpec(id: "m", kind: .llm, memory: 1 * GB, device: specs.last!.id)])
        #expect(throws: LedgerError.notResident("m")) { try s.ledger.beginRequest("m", at: s.now) }
        #expect(throws: LedgerError.notResident("x")) { try s.ledger.endRequest("x", at: s.now) }
        try s.load("m")
        try s.ledger.beginRequest("m", at: s.now.advanced(by: .seconds(1)))
        #expect(s.ledger.resident("m")?.inFlight == 1)
        #expect(s.ledger.device(specs.last!.id)?.residents["m"]?.inFlight == 1)
        try s.ledger.endRequest("m", at: s.now.advanced(by: .seconds(2)))
        #expect(s.ledger.resident("m")?.inFlight == 0)
        #expect(s.ledger.resident("m")?.lastUsed == s.now.advanced(by: .seconds(2)))
        try s.ledger.markUnloaded("m")
        #expect(throws: LedgerError.notResident("m")) { try s.ledger.beginRequest("m", at: s.now) }
    }

    /// A device is the same whatever order its residents came and went in; and when a
    /// resident leaves and another takes its place in the device's tables, the one moved keeps
    /// its own numbers: the planner still sees it busy and takes the idle one, though that one
    /// was used last.
    @Test func residentsKeepTheirNumbersWhateverOrderTheyCameAndWentIn() throws {
        let models = ["a", "b", "c"].map { ModelSpec(id: ModelID($0), kind: .llm, memory: 4 * GB) }
            + [ModelSpec(id: "big", kind: .llm, memory: 10 * GB)]
        var first = Scenario(models: models), second = Scenario(models: models)
        let at = first.now
        for id: ModelID in ["a", "b", "c"] { try first.ledger.markLoaded(id, on: "gpu0", at: at) }
        for id: ModelID in ["c", "b"] { try second.ledger.markLoaded(id, on: "gpu0", at: at) }
        try first.ledger.beginRequest("c", at: at.advanced(by: .seconds(1)))
        try second.ledger.beginRequest("c", at: at.advanced(by: .seconds(1)))
        try first.ledger.touch("b", at: at.advanced(by: .seconds(2)))
        try second.ledger.touch("b", at: at.advanced(by: .seconds(2)))
        try first.ledger.markUnloaded("a")

        #expect(first.ledger.device("gpu0") == second.ledger.device("gpu0"))
        #expect(first.ledger.device("gpu0")?.hashValue == second.ledger.device("gpu0")?.hashValue)
        #expect(first.ledger.device("gpu0")?.residents["a"] == nil)
        #expect(first.ledger.resident("c")?.inFlight == 1 && first.ledger.resident("b")?.inFlight == 0)
        let plan = try #require(first.plan("big").loadPlan)
        #expect(plan.evictions.map(\.model) == ["b"])

        try second.ledger.endRequest("c", at: at.advanced(by: .seconds(3)))
        #expect(first.ledger.device("gpu0") != second.ledger.device("gpu0"))
    }

    @Test func reloadKeepsRemovedResidentsCounted() throws {
        var s = Scenario(models: [ModelSpec(id: "old", kind: .llm, memory: 4 * GB)])
        try s.load("old")
        s.ledger.replaceModels([ModelSpec(id: "new", kind: .llm, memory: 2 * GB)])
        #expect(s.free() == 12 * GB)
        try s.ledger.markUnloaded("old")
        s.ledger.replaceModels([ModelSpec(id: "new", kind: .llm, memory: 2 * GB)])
        #expect(s.ledger.model("old") == nil)
    }
}
