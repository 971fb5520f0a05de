import VRAMPolicy

/// The requests and loads suspended in the scheduler until something changes, and the timers
/// that end their waits: the bookkeeping of ``Scheduler/waitForChange(until:model:behind:)``.
///
/// A waiter is a continuation keyed by a token. The scheduler decides who may go on; this type
/// holds who waits, hands back the ones to resume, and keeps one deadline timer for all of them:
/// a request woken by every release waits again many times, and a timer of its own for each wait,
/// left to run to the queue's timeout, piled up by the hundred thousand in the soak.
struct WaitRoom {
    private(set) var waiters: [Int: Waiter] = [:]
    /// How many waits have begun: what a test compares with the requests served.
    private(set) var waitsBegun = 0
    /// How many times a deadline timer was set: what a test compares with the waits begun.
    private(set) var timersSet = 0
    /// The one timer that ends waits at their deadline, and when it is due.
    private var deadlineTimer: (due: ContinuousClock.Instant, task: Task<Void, Never>)?
    /// When the earliest wake-everyone still to come is due.
    private var nextWake: ContinuousClock.Instant?

    var isEmpty: Bool { waiters.isEmpty }

    /// Begins a wait: its token, known before the waiter is, for its cancellation handler.
    mutating func begin() -> Int {
        waitsBegun += 1
        return waitsBegun
    }

    mutating func enter(_ token: Int, _ waiter: Waiter) {
        waiters[token] = waiter
    }

    /// Takes out the waiter of `token`, unless it has been resumed already.
    mutating func leave(_ token: Int) -> Waiter? {
        waiters.removeValue(forKey: token)
    }

    /// Takes out every waiter that `mayGoOn`, for the caller to resume.
    mutating func takeWakeable(_ mayGoOn: (Waiter) -> Bool) -> [Waiter] {
        var woken: [Waiter] = []
        for (token, waiter) in waiters where mayGoOn(waiter) {
            waiters[token] = nil
            woken.append(waiter)
        }
        return woken
    }

    /// Makes sure a timer is due by `deadline`: `start` makes one for that instant, unless one
    /// due no later is armed.
    mutating func armDeadline(_ deadline: ContinuousClock.Instant, start: (ContinuousClock.Instant) -> Task<Void, Never>) {
        if let armed = deadlineTimer, armed.due <= deadline { return }
        deadlineTimer?.task.cancel()
        deadlineTimer = (deadline, start(deadline))
        timersSet += 1
    }

    /// The timer armed for `due` fired: takes out the waiters whose deadline has passed, and
    /// says when the next timer is needed.
    mutating func expire(timerDue due: ContinuousClock.Instant, now: ContinuousClock.Instant)
        -> (expired: [Waiter], next: ContinuousClock.Instant?) {
        if deadlineTimer?.due == due { deadlineTimer = nil }
        let expired = takeWakeable { $0.deadline <= now }
        return (expired, waiters.values.lazy.map(\.deadline).min())
    }

    /// Stops the deadline timer, which would otherwise keep its owner alive until the latest
    /// queue timeout.
    mutating func cancelTimer() {
        deadlineTimer?.task.cancel()
        deadlineTimer = nil
    }

    /// Whether a wake-everyone at `due` must be scheduled: not when one due by then will come.
    mutating func scheduleWake(at due: ContinuousClock.Instant) -> Bool {
        if let pending = nextWake, pending <= due { return false }
        nextWake = due
        return true
    }

    /// The wake scheduled for `due` came.
    mutating func wakeCame(_ due: ContinuousClock.Instant) {
        if nextWake == due { nextWake = nil }
    }
}

/// A suspended ``Scheduler/waitForChange(until:model:behind:)``.
struct Waiter {
    let continuation: CheckedContinuation<Void, any Error>
    let deadline: ContinuousClock.Instant
    let model: ModelID
    /// Its request's ticket, when it waits in `model`'s line behind another.
    let behind: Int?
}
