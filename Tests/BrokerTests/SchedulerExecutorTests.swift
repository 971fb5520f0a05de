import Dispatch
import Testing

@testable import Broker

/// The scheduler's executor: jobs one at a time, and synchronous callers isolated by the same
/// lock only when it is free.
@Suite(.timeLimit(.minutes(1)))
struct SchedulerExecutorTests {
    /// An actor on the executor, whose methods notice when two of them overlap.
    actor Guarded {
        nonisolated let executor = SchedulerExecutor()
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        var count = 0
        var inside = false
        var overlaps = 0

        func bump() {
            if inside { overlaps += 1 }
            inside = true
            // A read-modify-write spread over a few steps, so two at once would lose counts.
            let seen = count
            for _ in 0..<50 { _ = Int.random(in: 0..<2) }
            count = seen + 1
            inside = false
        }

        /// Holds the executor until `go` is signalled.
        func hold(entered: DispatchSemaphore, go: DispatchSemaphore) {
            entered.signal()
            go.wait()
        }
    }

    @Test func jobsAndSynchronousCallsNeverOverlap() async {
        let guarded = Guarded()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { await guarded.bump() } }
            group.addTask {
                // Synchronous callers that find the lock free run isolated, between the jobs.
                var done = 0
                while done < 200 {
                    if guarded.executor.runIfFree({ guarded.assumeIsolated { $0.bump() } }) != nil { done += 1 }
                    await Task.yield()
                }
            }
        }
        #expect(await guarded.count == 400)
        #expect(await guarded.overlaps == 0)
    }

    @Test func aSynchronousCallerDoesNotWaitForABusyExecutor() async throws {
        let guarded = Guarded()
        let entered = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
        let holding = Task { await guarded.hold(entered: entered, go: go) }
        // Waits on a thread of its own, never on the test's executor.
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                entered.wait()
                continuation.resume()
            }
        }
        #expect(guarded.executor.runIfFree { guarded.assumeIsolated { $0.count } } == nil, "the job holds the lock")
        go.signal()
        await holding.value
        // The job's thread lets go of the lock just after the task is seen to end.
        var free: Int?
        while free == nil {
            free = guarded.executor.runIfFree { guarded.assumeIsolated { $0.count } }
            await Task.yield()
        }
        #expect(free == 0)
    }

    @Test func isolationHoldsOnlyUnderTheLock() {
        let executor = SchedulerExecutor()
        #expect(executor.isIsolatingCurrentContext() == false)
        #expect(executor.runIfFree { executor.isIsolatingCurrentContext() } == true)
        #expect(executor.isIsolatingCurrentContext() == false)
    }
}
