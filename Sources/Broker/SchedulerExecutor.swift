#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization

/// The scheduler's serial executor: its jobs run one at a time under a lock, on an event loop,
/// and synchronous code on an event loop can take the same lock to run a short piece of the
/// scheduler's work without a task.
///
/// The direct path asks for a lease and gives it back on every request. As tasks, the two were
/// hops through the executor and a promise back, about a fifth of the CPU vramd spent on a small
/// proxied request; under the lock each is a function call. The scheduler stays an actor
/// for everything else, and its isolation is exactly the lock, so `assumeIsolated` holds inside
/// ``Scheduler/admitNow(_:)`` and nowhere the lock is not held.
///
/// Jobs wait in a queue that one drain at a time works through, where the first of them was
/// enqueued, so no thread sleeps waiting for another thread's job. (Running each job as its own
/// loop task that took the lock did: the 100,000-request soak took 138 s instead of 76 s with the
/// default executor. With the queue, and the scheduler's timers fixed since, it takes 89 s
/// against the default executor's 86 s.)
/// Synchronous callers only ever try the lock: when a job holds it, the direct path takes the
/// task path instead of waiting, and a job can never find its own thread holding it.
final class SchedulerExecutor: SerialExecutor {
    private struct Queue {
        var jobs = CircularBuffer<UnownedJob>()
        var draining = false
    }

    private let queue = Mutex(Queue())
    /// Held while a job runs, or a synchronous caller: the scheduler's isolation.
    private let lock = Mutex(())
    /// The thread holding the lock, 0 when none: what `checkIsolated` asks.
    private let owner = Atomic<UInt>(0)
    /// Jobs one drain runs before it lets its event loop read and write again.
    private static let batch = 64

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let start = queue.withLock { queue in
            queue.jobs.append(job)
            defer { queue.draining = true }
            return !queue.draining
        }
        if start { scheduleDrain() }
    }

    private func drain() {
        for _ in 0..<Self.batch {
            let next = queue.withLock { queue in
                let job = queue.jobs.popFirst()
                if job == nil { queue.draining = false }
                return job
            }
            guard let job = next else { return }
            lock.withLock { _ in
                owner.store(Self.thread, ordering: .relaxed)
                defer { owner.store(0, ordering: .relaxed) }
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
        }
        scheduleDrain()
    }

    /// On the calling thread's event loop, so work stays where it began; off the loops (tests,
    /// and tasks before the event-loop executor is installed) on the runtime's own pool rather
    /// than waking a loop's thread.
    private func scheduleDrain() {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
            loop.execute { self.drain() }
        } else {
            Task.detached { self.drain() }
        }
    }

    /// Runs `body` under the lock when it is free at once; `nil` when another thread (or this
    /// one, inside a job) holds it.
    func runIfFree<T>(_ body: () -> T) -> T? {
        lock.withLockIfAvailable { _ in
            owner.store(Self.thread, ordering: .relaxed)
            defer { owner.store(0, ordering: .relaxed) }
            return body()
        }
    }

    func isIsolatingCurrentContext() -> Bool? {
        owner.load(ordering: .relaxed) == Self.thread
    }

    func checkIsolated() {
        precondition(owner.load(ordering: .relaxed) == Self.thread, "not on the scheduler's executor")
    }

    private static var thread: UInt {
        #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        UInt(pthread_self())
        #endif
    }
}
