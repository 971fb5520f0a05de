import VRAMPolicy

/// What the direct path hears when it asks for a lease without a task.
enum DirectAdmission {
    case admitted(Lease)
    /// Not ready, busy, queued for, or unknown: ``Scheduler/acquire(_:priority:)`` decides.
    case refused
    /// The scheduler was at work on another thread; ask again in a task.
    case busy
}

extension Scheduler {
    /// A lease at once when `name` is ready, has a free slot and nobody is waiting for it;
    /// otherwise `nil`, and nothing has changed.
    ///
    /// This is the direct path's question (``DirectProxyHandler``): in that case ``acquire(_:priority:)``
    /// would hand out the same lease without waiting, and every other case (a load, a queue, an
    /// unknown model, a stale config, shutdown) is left to `acquire` and its errors. A request
    /// admitted here counts, waits (zero) and starts exactly as one admitted there.
    public func acquireIfReady(_ name: String) -> Lease? {
        guard !shuttingDown, queued < settings.queueMax, let id = lookup.modelID(named: name),
              let index = runtimes.index(forKey: id),
              withRuntime(at: index, { runtime in
                  runtime.backend != nil && runtime.state == .ready && !runtime.stale && !runtime.draining && runtime.pending.isEmpty
                      && runtime.inFlight < runtime.config.maxConcurrency && deviceSlotFree(runtime.device)
              })
        else { return nil }
        stats.requests += 1
        stats.direct += 1
        return startRequest(id, at: index, waited: .zero)
    }

    /// ``acquireIfReady(_:)`` from synchronous code, under the executor's lock (see
    /// ``SchedulerExecutor``).
    nonisolated func admitNow(_ name: String) -> DirectAdmission {
        guard let lease = executor.runIfFree({ isolatedUnderLock { $0.acquireIfReady(name) } }) else { return .busy }
        return lease.map(DirectAdmission.admitted) ?? .refused
    }

    /// ``release(_:)`` from synchronous code; false when the scheduler was busy and nothing changed.
    nonisolated func releaseNow(_ id: ModelID) -> Bool {
        executor.runIfFree { isolatedUnderLock { $0.release(id) } } != nil
    }

    /// `body` run as the scheduler's own code, by a caller that holds its executor's lock
    /// (``SchedulerExecutor/runIfFree(_:)``), which is what isolation to it means.
    ///
    /// `assumeIsolated` does the same after asking the runtime whether the current thread is on
    /// the executor, about 700 instructions a call and two calls a request; the lock held makes
    /// the answer known, so debug builds check it and release builds do not ask.
    private nonisolated func isolatedUnderLock<T>(_ body: (isolated Scheduler) -> T) -> T {
        assert(executor.isIsolatingCurrentContext() == true, "the scheduler's lock is not held")
        typealias Plain = (Scheduler) -> T
        return withoutActuallyEscaping(body) { body in unsafeBitCast(body, to: Plain.self)(self) }
    }
}
