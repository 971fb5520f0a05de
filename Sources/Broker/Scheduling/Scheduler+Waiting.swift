import VRAMPolicy

/// How requests and loads wait: every waiter is a continuation keyed by a token, woken by
/// ``notifyChange()`` to look at the state again; a waiter also ends at its deadline, or when its
/// task is cancelled.
///
/// A request in line behind another for a ready model is woken only once it is first (or the
/// model's state changes): only the first in line may start, and waking all of them at every
/// release made serving N queued requests cost on the order of N² wake-ups. The first in line
/// leaving without starting wakes the rest, since the next one may now go.
///
/// A load's end, failed or not, is a change like any other: `performLoad` wakes every waiter as
/// it ends, before its task's value is set, and a request that joined the load reads the failure
/// from that task (``Scheduler/acquire(_:priority:)``'s `joinedLoad`). A watcher per wait for the
/// load's end would only ever find its waiter gone, and would live until the load ended: one per
/// wakeup of every queued request, through a load that can take minutes.
extension Scheduler {
    /// Suspends until something changes (a release, a load or unload finishing), the deadline
    /// passes (queue timeout), or the client goes away.
    ///
    /// - Parameter ticket: the request's place in `model`'s line when it waits only because it
    ///   is not first there: it then sleeps through changes until it is.
    func waitForChange(until deadline: ContinuousClock.Instant, model: ModelID, behind ticket: Int? = nil) async throws {
        if clock.now >= deadline {
            stats.queueTimeouts += 1
            throw BrokerError.queueTimeout(model.rawValue, after: settings.queueTimeout)
        }
        let token = waitRoom.begin()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waitRoom.enter(token, Waiter(continuation: continuation, deadline: deadline, model: model, behind: ticket))
                armDeadline(deadline)
            }
        } onCancel: {
            Task { await self.resume(token, throwing: CancellationError()) }
        }
    }

    /// Ends the waits whose deadline has passed, and arms the timer for the next one.
    private func expireWaiters(armedFor due: ContinuousClock.Instant) {
        let (expired, next) = waitRoom.expire(timerDue: due, now: clock.now)
        for waiter in expired {
            stats.queueTimeouts += 1
            waiter.continuation.resume(throwing: BrokerError.queueTimeout(waiter.model.rawValue, after: settings.queueTimeout))
        }
        if let next { armDeadline(next) }
    }

    private func armDeadline(_ deadline: ContinuousClock.Instant) {
        waitRoom.armDeadline(deadline) { due in
            Task {
                guard (try? await Task.sleep(until: due, clock: .continuous)) != nil else { return }
                self.expireWaiters(armedFor: due)
            }
        }
    }

    private func resume(_ token: Int, throwing error: any Error) {
        waitRoom.leave(token)?.continuation.resume(throwing: error)
    }

    func notifyChange() {
        guard !waitRoom.isEmpty else { return }
        for waiter in waitRoom.takeWakeable(mayGoOn) { waiter.continuation.resume() }
    }

    /// Whether a change may let `waiter` go on: always, unless it waits in line behind another
    /// request for a model that is still ready.
    private func mayGoOn(_ waiter: Waiter) -> Bool {
        guard let ticket = waiter.behind, !shuttingDown else { return true }
        return withRuntime(waiter.model) { $0.state != .ready || $0.pending.isFirst(ticket) } ?? true
    }

    /// Wakes every waiter after `delay`, unless a wake already due by then will.
    func wake(after delay: Duration) {
        let due = clock.now.advanced(by: delay)
        guard waitRoom.scheduleWake(at: due) else { return }
        Task {
            try? await Task.sleep(until: due, clock: .continuous)
            self.waitRoom.wakeCame(due)
            self.notifyChange()
        }
    }
}
