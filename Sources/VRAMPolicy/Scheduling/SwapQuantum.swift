/// Against thrash: a resident model with requests queued is swapped out for one of the same or
/// lower priority only after it has served up to ``requests`` of them, or after ``time``.
///
/// The quantum starts when a load first plans to evict the model, or waits for it to go idle. A
/// spent quantum makes the model drain: its queued requests wait until it has been swapped out
/// and back in. A model that has served nobody since its load has spent nothing, whatever the
/// quantum: swapping it out at once would make its load pure waste, and two models could swap
/// each other forever.
public struct SwapQuantum: Sendable, Hashable {
    /// Queued requests a resident model serves before it yields (0: it yields at once, once it
    /// has served one request since its load).
    public var requests: Int
    /// The longest a resident model holds its place once a load waits for it.
    public var time: Duration

    public init(requests: Int, time: Duration) {
        self.requests = requests
        self.time = time
    }

    /// A resident model's standing against loads that want it out.
    public struct Standing: Sendable, Hashable {
        /// When a load first waited for it; `nil` while none does.
        public var since: Instant?
        /// Requests started since then.
        public var served = 0
        /// Requests started since its load.
        public var servedSinceLoad = 0
        /// No new request starts on it: it waits to be swapped out.
        public var draining = false

        public init() {}

        /// A load no longer waits for it (the load ended, or it was swapped out).
        public mutating func endContention() {
            since = nil
            served = 0
            draining = false
        }

        /// It was loaded again: it owes nothing to an earlier contender.
        public mutating func loaded() {
            endContention()
            servedSinceLoad = 0
        }
    }

    public enum Verdict: Sendable, Hashable {
        /// It keeps its place until `until` at the latest; the load waits.
        case holds(until: Instant)
        /// Spent: the load may evict it, and it drains meanwhile.
        case spent
    }

    /// Whether a resident model with requests queued keeps its place against a load of
    /// `targetPriority`; `nil` when the quantum does not apply (nobody queued for it, or the
    /// load outranks it). Starts the quantum on the first call of a contention.
    public func judge(_ standing: inout Standing, queued: Bool, priority: Int, targetPriority: Int, now: Instant) -> Verdict? {
        guard queued, targetPriority <= priority else { return nil }
        let since = standing.since ?? now
        standing.since = since
        let served = standing.served >= requests && standing.servedSinceLoad > 0
        let spent = served || now.since(since) >= time
        standing.draining = standing.draining || spent
        return spent ? .spent : .holds(until: since.advanced(by: time))
    }

    /// Counts a request started on the model; the one that spends the quantum makes it drain, so
    /// the next queued request does not start before the swap.
    public func requestStarted(_ standing: inout Standing) {
        standing.servedSinceLoad += 1
        guard standing.since != nil else { return }
        standing.served += 1
        if standing.served >= requests { standing.draining = true }
    }
}
