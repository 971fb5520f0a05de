import VRAMPolicy

/// How requests and loads wait: every waiter is a continuation keyed by a token, all of them
/// woken by ``notifyChange()`` to look at the state again; a waiter also ends at its deadline,
/// when its task is cancelled, or when the load it joined fails.
extension Scheduler {
    /// Suspends until something changes (a release, a load or unload finishing), the deadline
    /// passes (queue timeout), the client goes away, or — when given — the load fails.
    func waitForChange(until deadline: ContinuousClock.Instant, model: ModelID,
                               orLoad load: Task<Void, any Error>? = nil) async throws {
        if clock.now >= deadline {
            stats.queueTimeouts += 1
            throw BrokerError.queueTimeout(model.rawValue, after: settings.queueTimeout)
        }
        sequence += 1
        let token = sequence
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waiters[token] = continuation
                Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    self.resume(token, throwing: BrokerError.queueTimeout(model.rawValue, after: self.settings.queueTimeout))
                }
                if let load {
                    Task {
                        do { try await load.value } catch { self.resume(token, throwing: error) }
                    }
                }
            }
        } onCancel: {
            Task { await self.resume(token, throwing: CancellationError()) }
        }
    }

    private func resume(_ token: Int, throwing error: any Error) {
        guard let waiter = waiters.removeValue(forKey: token) else { return }
        if error is BrokerError, (error as? BrokerError)?.code == "queue_timeout" { stats.queueTimeouts += 1 }
        waiter.resume(throwing: error)
    }

    func notifyChange() {
        let current = waiters
        waiters.removeAll()
        for waiter in current.values { waiter.resume() }
    }

    func wake(after delay: Duration) {
        Task {
            try? await Task.sleep(for: delay)
            self.notifyChange()
        }
    }
}
