import VRAMPolicy

/// What a node publishes for a router that sends each request where its model is resident: the
/// Gateway API Inference Extension reads it as LoRA adapters (docs/cluster.md).
struct Residency: Equatable {
    /// Resident models, by every name clients may send (ids and aliases).
    var running: [String]
    /// Models loading, or with requests queued, that are not resident.
    var waiting: [String]
    /// Resident + loading + how many more of the configured models fit without evicting.
    var maxModels: Int

    init(_ report: StatusReport) {
        func names(_ model: StatusReport.Model) -> [String] { [model.id] + model.aliases }
        let resident = report.models.filter { $0.state == .ready || $0.state == .unloading }
        let loading = report.models.filter { $0.state == .loading }
        let queued = report.models.filter { $0.queued > 0 && $0.state != .ready && $0.state != .loading }
        running = resident.flatMap(names)
        waiting = (loading + queued).flatMap(names)
        let candidates = report.models.filter { ($0.state == .unloaded || $0.state == .failed) && $0.backend != nil }
        let more = FitCount.additional(sizes: candidates.map(\.footprint), free: report.devices.map(\.freeForPlanning))
        maxModels = resident.count + loading.count + more
    }

    var labels: [(String, String)] {
        [("running_lora_adapters", running.joined(separator: ",")), ("waiting_lora_adapters", waiting.joined(separator: ",")),
         ("max_lora", String(maxModels))]
    }

    /// Memory in use across the devices, of what vramd may plan with, from 0 to 1.
    static func usedRatio(_ report: StatusReport) -> Double {
        let usable = report.devices.reduce(Int64(0)) { $0 + max(0, $1.capacity - $1.cushion) }
        guard usable > 0 else { return 0 }
        let free = report.devices.reduce(Int64(0)) { $0 + max(0, $1.freeForPlanning) }
        return min(1, max(0, Double(usable - free) / Double(usable)))
    }
}
