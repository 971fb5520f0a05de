/// Racing work against a clock.
enum Deadline {
    /// Runs `operation`, giving up when `clock` has advanced by `timeout`.
    ///
    /// - Returns: the operation's result, or `nil` if the time ran out first (the operation is
    ///   cancelled and awaited before this returns).
    static func run<T: Sendable>(within timeout: Duration, clock: any Clock<Duration>,
                                 _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await clock.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}

/// Waiting for a condition that nothing signals: the device showing memory returned after an
/// unload, processes that are not vramd's children going away.
enum Poll {
    /// Polls `returned` until it holds or `timeout` passes; the gap grows from 5 ms to 100 ms,
    /// since drivers release memory a little after a process has gone.
    ///
    /// - Returns: whether it held, and how long the wait took.
    static func until(timeout: Duration, clock: any Clock<Duration>,
                      _ returned: @escaping @Sendable () async throws -> Bool) async -> (held: Bool, waited: Duration) {
        let started = ContinuousClock.now
        let result = try? await Deadline.run(within: timeout, clock: clock) {
            var gap = Duration.milliseconds(5)
            while try await !returned() {
                try await clock.sleep(for: gap)
                gap = min(gap * 2, .milliseconds(100))
            }
            return true
        }
        return (result == true, started.duration(to: .now))
    }
}
