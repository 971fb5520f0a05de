import Testing
@testable import VRAMPolicy

/// Properties over random ledgers: every plan stays within capacity − cushion, never names a
/// protected model, is minimal, and evicts no higher tier than an alternative that fits.
@Suite struct PlannerPropertyTests {
    struct World {
        var ledger: Ledger
        var now: Instant
    }

    static func randomWorld(_ rng: inout SeededGenerator) -> World {
        let deviceCount = Int.random(in: 1...3, using: &rng)
        let devices = (0..<deviceCount).map { i in
            DeviceSpec(id: DeviceID("gpu\(i)"), capacity: Int64.random(in: 8...24, using: &rng) * GB,
                       cushion: Int64.random(in: 0...2, using: &rng) * GB / 4)
        }
        let modelCount = Int.random(in: 3...12, using: &rng)
        let ids = (0..<modelCount).map { ModelID("m\($0)") }
        var specs: [ModelSpec] = []
        for id in ids {
            let qosRoll = Int.random(in: 0..<10, using: &rng)
            let qos: QoS = qosRoll == 0 ? .guaranteed : (qosRoll <= 2 ? .bestEffort : .burstable)
            let memory = Int64.random(in: 1...12, using: &rng) * GB / 2
            let pinDevice = deviceCount == 1 || Bool.random(using: &rng)
            specs.append(ModelSpec(
                id: id, kind: ModelKind.allCases.randomElement(using: &rng)!, memory: memory,
                priority: Int.random(in: 0...4, using: &rng),
                pinned: Int.random(in: 0..<10, using: &rng) == 0,
                qos: qos,
                reserve: qos == .burstable && Int.random(in: 0..<5, using: &rng) == 0 ? memory / 2 : 0,
                coexistsWith: Set(ids.filter { $0 != id && Int.random(in: 0..<6, using: &rng) == 0 }),
                exclusiveGroup: Int.random(in: 0..<4, using: &rng) == 0 ? "g\(Int.random(in: 0...1, using: &rng))" : nil,
                device: pinDevice ? devices.randomElement(using: &rng)!.id : nil))
        }
        // Burstable reservations without a device are refused by config validation; mirror that.
        specs = specs.map { spec in
            var spec = spec
            if spec.device == nil && spec.reservedWhileUnloaded > 0 { spec.device = devices[0].id }
            return spec
        }
        let options = PolicyOptions(upwardEviction: Bool.random(using: &rng) ? .lastResort : .never,
                                    minResidency: .seconds(Int64.random(in: 0...10, using: &rng)))
        var ledger = Ledger(devices: devices, models: specs, options: options)
        let now = Instant.seconds(10_000)
        for device in devices where Bool.random(using: &rng) {
            try? ledger.setForeign(Int64.random(in: 0...2, using: &rng) * GB, on: device.id)
        }
        // Fill devices with whatever fits, at random ages and with random requests in flight.
        for spec in specs.shuffled(using: &rng) where Int.random(in: 0..<3, using: &rng) > 0 {
            let device = spec.device ?? devices.randomElement(using: &rng)!.id
            guard ledger.freeForPlanning(on: device, for: spec.id) >= spec.memory else { continue }
            let loadedAt = now.advanced(by: .seconds(-Int64.random(in: 0...60, using: &rng)))
            try? ledger.markLoaded(spec.id, on: device, at: loadedAt)
            try? ledger.touch(spec.id, at: loadedAt.advanced(by: .seconds(Int64.random(in: 0...30, using: &rng))))
            if Int.random(in: 0..<4, using: &rng) == 0 { try? ledger.beginRequest(spec.id, at: loadedAt) }
            if Bool.random(using: &rng) { try? ledger.markContended(spec.id) }
        }
        return World(ledger: ledger, now: now)
    }

    /// The rules restated independently of the planner's code: may `resident` be a victim for `target`?
    static func evictable(_ resident: ResidentModel, for target: ModelSpec, in world: World) -> Bool {
        let ledger = world.ledger
        guard let spec = ledger.model(resident.id), resident.id != target.id else { return false }
        if spec.pinned || spec.qos == .guaranteed || target.coexistsWith.contains(resident.id) { return false }
        if resident.inFlight > 0 { return false }
        let rank = spec.qos == .bestEffort ? -1 : spec.priority
        if rank > target.priority && ledger.options.upwardEviction == .never { return false }
        if resident.contended && world.now.since(resident.loadedAt) < ledger.options.minResidency && target.priority <= spec.priority {
            return false
        }
        return true
    }

    /// What evicting `resident` gives back to its device (its reservation stays behind).
    static func freed(_ resident: ResidentModel, in ledger: Ledger) -> Int64 {
        guard let spec = ledger.model(resident.id) else { return resident.bytes }
        return resident.bytes - (ledger.reservationDevice(for: spec) == resident.device ? spec.reservedWhileUnloaded : 0)
    }

    @Test(arguments: 0..<8)
    func plansRespectTheRules(batch: Int) throws {
        var rng = SeededGenerator(seed: UInt64(batch) &* 7919 &+ 1)
        var checkedLoads = 0
        for _ in 0..<500 {
            let world = Self.randomWorld(&rng)
            let ledger = world.ledger
            let target = try #require(ledger.models.values.sorted { $0.id < $1.id }.randomElement(using: &rng))
            let decision = ledger.plan(load: target.id, at: world.now)
            #expect(decision == ledger.plan(load: target.id, at: world.now), "planning is deterministic")

            switch decision {
            case .resident(_, let device):
                #expect(ledger.resident(target.id)?.device == device)
            case .load(let plan):
                checkedLoads += 1
                if let wanted = target.device { #expect(plan.device == wanted) }
                // Within capacity − cushion once carried out.
                var after = ledger
                try after.apply(plan, at: world.now)
                for device in after.devices {
                    #expect(device.plannedUse <= device.spec.capacity || ledger.device(device.id)!.plannedUse > device.spec.capacity,
                            "\(device.id) over capacity after \(plan)")
                }
                #expect(plan.freeAfter >= 0)
                #expect(plan.freeAfter == after.freeForPlanning(on: plan.device))
                // Never a protected model; group members only for the group rule.
                for victim in plan.evictions {
                    let resident = try #require(ledger.resident(victim.model))
                    #expect(Self.evictable(resident, for: target, in: world), "\(victim.model) is protected: \(plan)")
                    if case .exclusiveGroup(let group) = victim.reason {
                        #expect(ledger.model(victim.model)?.exclusiveGroup == group && target.exclusiveGroup == group)
                    }
                }
                let optional = plan.evictions.filter {
                    if case .exclusiveGroup = $0.reason { return false } else { return true }
                }
                // Minimal: removing any one optional victim leaves too little room.
                for victim in optional {
                    #expect(plan.freeAfter - victim.freed < 0, "\(victim.model) was not needed: \(plan)")
                }
                // No higher tier than needed: everything evictable below the top victim's rank
                // would not have been enough.
                if let top = optional.map({ ledger.model($0.model)!.qos == .bestEffort ? -1 : $0.priority }).max() {
                    let state = try #require(ledger.device(plan.device))
                    let groupFreed = plan.evictions.filter { !optional.contains($0) && $0.device == plan.device }.reduce(0) { $0 + $1.freed }
                    let lowerPool = state.residents.values.filter { resident in
                        let spec = ledger.model(resident.id)!
                        let rank = spec.qos == .bestEffort ? -1 : spec.priority
                        return rank < top && Self.evictable(resident, for: target, in: world)
                            && !plan.evictions.contains { $0.model == resident.id && !optional.contains($0) }
                    }.reduce(0) { $0 + Self.freed($1, in: ledger) }
                    #expect(plan.freeBefore + groupFreed + lowerPool < plan.bytes,
                            "a set below rank \(top) would have fitted: \(plan)")
                }
            case .wait(let plan):
                for blocker in plan.waitingFor {
                    let resident = try #require(ledger.resident(blocker.model))
                    switch blocker.reason {
                    case .busy(let n): #expect(n == resident.inFlight && n > 0)
                    case .minResidency(let remaining):
                        #expect(resident.contended && remaining > .zero && world.now.since(resident.loadedAt) + remaining == ledger.options.minResidency)
                    }
                }
            case .reject(let rejection):
                if case .neverFits(let deviceID, let needed, let available) = rejection.reason {
                    let state = try #require(ledger.device(deviceID))
                    #expect(needed > available && available == max(0, ledger.capacityForPlanning(on: state, for: target.id)))
                }
                if case .blockedByProtected(let deviceID, let needed, _, _) = rejection.reason {
                    // Even with every non-protected resident gone (busy ones included) it would not fit.
                    let state = try #require(ledger.device(deviceID))
                    let movable = state.residents.values.filter { resident in
                        guard let spec = ledger.model(resident.id) else { return false }
                        let rank = spec.qos == .bestEffort ? -1 : spec.priority
                        return !(spec.pinned || spec.qos == .guaranteed || target.coexistsWith.contains(resident.id)
                                 || (rank > target.priority && ledger.options.upwardEviction == .never))
                    }.reduce(0) { $0 + Self.freed($1, in: ledger) }
                    #expect(ledger.freeForPlanning(on: deviceID, for: target.id) + movable < needed)
                }
            }
        }
        #expect(checkedLoads > 50, "the generator must produce enough loads to mean something")
    }
}
