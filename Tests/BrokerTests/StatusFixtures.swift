@testable import Broker

/// A status report as a 16 GiB card would give it: two residents, a reservation, foreign memory.
enum StatusFixtures {
    static func report(requests: Int = 10, evictions: [String: Int] = ["lower_or_same_tier": 2], models extra: Bool = true) -> StatusReport {
        let gib: Int64 = 1 << 30
        let device = StatusReport.Device(
            id: "gpu0", kind: "simulated", name: "gpu0", total: 16 * gib, free: 5 * gib, capacity: 16 * gib, cushion: gib / 4,
            foreign: gib, resident: 6 * gib, reserved: 2 * gib, plannedUse: 9 * gib + gib / 4, freeForPlanning: 6 * gib + 3 * gib / 4,
            residents: [StatusReport.Share(model: "whisper", bytes: 4 * gib, priority: 2), StatusReport.Share(model: "piper", bytes: 2 * gib, priority: 1)],
            reservations: [StatusReport.Share(model: "guard", bytes: 2 * gib, priority: 0)])
        var models = [
            model("whisper", state: .ready, bytes: 4 * gib, priority: 2, loads: 1),
            model("piper", state: .ready, bytes: 2 * gib, priority: 1, loads: 3),
        ]
        if extra { models.append(model("guard", state: .unloaded, bytes: 2 * gib, priority: 0, loads: 0)) }
        var stats = StatusReport.Stats(SchedulerStats())
        stats.requests = requests
        stats.loads = 4
        stats.evictions = evictions
        stats.swaps = 2
        return StatusReport(generatedAt: 1_800_000_000, devices: [device], models: models,
                            queue: StatusReport.Queue(waiting: 1, max: 8), scheduler: stats)
    }

    static func model(_ id: String, state: ModelState, bytes: Int64, priority: Int, loads: Int) -> StatusReport.Model {
        StatusReport.Model(id: id, kind: "stt", aliases: [], priority: priority, qos: "burstable", pinned: false, state: state,
                           device: state == .ready ? "gpu0" : nil, footprint: bytes, footprintSource: .declared, inFlight: 0,
                           queued: state == .ready ? 0 : 1, lastUsedAt: nil, keepAliveExpiresIn: state == .ready ? 120 : nil,
                           keepAliveExpiresAt: nil, loadCount: loads, lastLoadSeconds: loads > 0 ? 1.5 : nil, lastError: nil, backend: "http")
    }
}
