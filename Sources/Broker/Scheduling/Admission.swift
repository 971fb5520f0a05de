import VRAMPolicy

/// The bounded queue in front of the models: how many requests are inside
/// ``Scheduler/acquire(_:priority:)``, for which model, and the tickets that order each model's
/// line (``RequestQueue``).
struct Admission {
    /// `queue.max`: requests past it are refused at once rather than queued. Lowered below the
    /// requests inside, it refuses newcomers until enough have left.
    var limit: Int
    private(set) var total = 0
    /// Requests inside, per model (`/v1/status`).
    private(set) var perModel: [ModelID: Int] = [:]
    private var ticketsIssued = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Lets a request for `id` in: its ticket, or `nil` when the queue is full.
    mutating func enter(_ id: ModelID) -> Int? {
        guard total < limit else { return nil }
        total += 1
        perModel[id, default: 0] += 1
        ticketsIssued += 1
        return ticketsIssued
    }

    /// A request for `id` left, served or not.
    mutating func leave(_ id: ModelID) {
        total -= 1
        if let count = perModel[id], count > 1 { perModel[id] = count - 1 } else { perModel[id] = nil }
    }
}
