/// When a resident model is contended: a request for it overlaps with a load of another model
/// that waits on it (to finish, or to be evicted). Only a contended model is kept by the minimum
/// residency (``ResidentModel/contended``), so a lone client that alternates between models, whose
/// requests never overlap, never waits for it, while two clients that compete are served in turns.
public struct Contention: Sendable, Hashable {
    /// Loads waiting on each model, by count.
    public private(set) var waitedOn: [ModelID: Int] = [:]

    public init() {}

    /// A load begins waiting on `model`; true when that makes it contended because requests for
    /// it are already queued.
    public mutating func loadWaits(on model: ModelID, queued: Bool) -> Bool {
        waitedOn[model, default: 0] += 1
        return queued
    }

    /// A load that waited on `model` ended (it loaded, failed or gave up).
    public mutating func loadStopsWaiting(on model: ModelID) {
        guard let count = waitedOn[model] else { return }
        waitedOn[model] = count > 1 ? count - 1 : nil
    }

    /// A request for `model` arrives; true when it overlaps with a load waiting on the model.
    public func requestArrives(for model: ModelID) -> Bool {
        waitedOn[model] != nil
    }
}
