import VRAMPolicy

/// The planner at 10,000 resident models across 4 devices (target: p99 under 1 ms per plan),
/// against a naive baseline measured in the same run: the llmux approach of sorting every
/// resident by tier and taking until the target fits, with no protections and no minimality.
enum PlannerBenchmark {
    static func run(arguments: [String]) throws {
        let residentCount = Int(arguments.first ?? "") ?? 10_000
        let plans = 2_000
        let (ledger, targets) = makeLedger(residents: residentCount, devices: 4)
        let now = Instant.seconds(100_000)

        var outcomes: [String: Int] = [:]
        let ours = measure(plans) { i in
            let decision = ledger.plan(load: targets[i % targets.count], at: now)
            switch decision {
            case .load(let plan): outcomes[plan.evictions.isEmpty ? "load" : "load+evict", default: 0] += 1
            case .wait: outcomes["wait", default: 0] += 1
            case .reject: outcomes["reject", default: 0] += 1
            case .resident: outcomes["resident", default: 0] += 1
            }
        }
        let naive = measure(plans) { i in
            _ = naivePlan(ledger, target: targets[i % targets.count])
        }

        print("planner: \(residentCount) resident models on 4 devices, \(plans) plans; decisions (with warm-up) \(outcomes.sorted { $0.key < $1.key })")
        print("  vramd  p50 \(format(ours.p50))  p99 \(format(ours.p99))  max \(format(ours.max))")
        print("  naive  p50 \(format(naive.p50))  p99 \(format(naive.p99))  max \(format(naive.max))")
        print("  ratio vramd/naive  p50 \(ratio(ours.p50, naive.p50))  p99 \(ratio(ours.p99, naive.p99))")
        print("  target p99 < 1 ms: \(ours.p99 < .milliseconds(1) ? "met" : "NOT met")")
    }

    struct Percentiles { var p50: Duration; var p99: Duration; var max: Duration }

    static func measure(_ count: Int, _ body: (Int) -> Void) -> Percentiles {
        let clock = ContinuousClock()
        for i in 0..<50 { body(i) }  // warm caches and allocators
        var samples: [Duration] = []
        samples.reserveCapacity(count)
        for i in 0..<count {
            let start = clock.now
            body(i)
            samples.append(start.duration(to: clock.now))
        }
        samples.sort()
        return Percentiles(p50: samples[count / 2], p99: samples[count * 99 / 100], max: samples[count - 1])
    }

    /// Devices filled to the brim with residents of mixed tiers, QoS and ages; the targets are
    /// not resident and larger than any device's free memory, so every plan must choose victims.
    static func makeLedger(residents: Int, devices: Int) -> (Ledger, [ModelID]) {
        var rng = SplitMix64(seed: 42)
        let mib: Int64 = 1 << 20
        var specs: [ModelSpec] = []
        var placement: [(ModelID, DeviceID)] = []
        var perDevice = [Int64](repeating: 0, count: devices)
        for i in 0..<residents {
            let device = i % devices
            let bytes = Int64(rng.next() % 900 + 100) * mib
            let roll = rng.next() % 100
            let spec = ModelSpec(id: ModelID("r\(i)"), kind: .llm, memory: bytes, priority: Int(rng.next() % 5),
                                 pinned: roll < 2, qos: roll < 4 ? .guaranteed : (roll < 10 ? .bestEffort : .burstable),
                                 device: DeviceID("gpu\(device)"))
            specs.append(spec)
            placement.append((spec.id, DeviceID("gpu\(device)")))
            perDevice[device] += bytes
        }
        let targets = (0..<100).map { ModelID("t\($0)") }
        for (i, id) in targets.enumerated() {
            specs.append(ModelSpec(id: id, kind: .llm, memory: Int64(2 + i % 30) * 1024 * mib, priority: i % 5))
        }
        // Every device is full but for 1 GiB, so every plan has to choose victims somewhere.
        var ledger = Ledger(devices: (0..<devices).map { DeviceSpec(id: DeviceID("gpu\($0)"), capacity: perDevice[$0] + 1024 * mib) },
                            models: specs, options: PolicyOptions(minResidency: .seconds(5)))
        for (i, (id, device)) in placement.enumerated() {
            let loaded = Instant.seconds(Double(i % 5000))
            try? ledger.markLoaded(id, on: device, at: loaded)
            try? ledger.touch(id, at: loaded.advanced(by: .seconds(Int64(rng.next() % 1000))))
            if rng.next() % 50 == 0 { try? ledger.beginRequest(id, at: loaded) }
        }
        return (ledger, targets)
    }

    /// The baseline: sort by tier then LRU, take until it fits, on every device; keep the first that fits.
    static func naivePlan(_ ledger: Ledger, target: ModelID) -> [ModelID] {
        guard let spec = ledger.model(target) else { return [] }
        for device in ledger.devices {
            var free = ledger.freeForPlanning(on: device.id, for: target)
            var victims: [ModelID] = []
            for resident in device.residents.values.sorted(by: { a, b in
                let pa = ledger.model(a.id)?.priority ?? 0, pb = ledger.model(b.id)?.priority ?? 0
                return pa != pb ? pa < pb : a.lastUsed < b.lastUsed
            }) where free < spec.memory {
                free += resident.bytes
                victims.append(resident.id)
            }
            if free >= spec.memory { return victims }
        }
        return []
    }

    static func format(_ d: Duration) -> String {
        let us = Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6
        return us >= 1000 ? "\(Double(Int(us / 10)) / 100) ms" : "\(Double(Int(us * 10)) / 10) µs"
    }

    static func ratio(_ a: Duration, _ b: Duration) -> String {
        let x = Double(a.nanoseconds) / Double(max(1, b.nanoseconds))
        return "\(Double(Int(x * 100)) / 100)×"
    }
}
