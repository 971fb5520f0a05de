#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization

/// The scheduler's serial executor: its jobs run one at a time under a lock, on the event loop
/// they were enqueued from, and synchronous code on an event loop can take the same lock to run
/// a short piece of the scheduler's work without a task.
///
/// The direct path asks for a lease and gives it back on every request. As tasks, the two were
/// hops through the executor and a promise back, about a fifth of the CPU vramd spent on a small
/// proxied request; under the lock each is a function call. The scheduler stays an actor
/// for everything else, and its isolation is exactly the lock, so `assumeIsolated` holds inside
/// ``Scheduler/admitNow(_:)`` and nowhere the lock is not held.
///
/// Synchronous callers only ever try the lock: a loop whose scheduler is busy on another thread
/// takes the task path instead of waiting, and a job can never find its own thread holding it.
/// Jobs do wait for the lock; what holds it is a job's synchronous stretch or a direct-path call,
/// both short.
final class SchedulerExecutor: SerialExecutor {
    private let lock = Mutex(())
    /// The thread holding the lock, 0 when none: what `checkIsolated` asks.
    private let owner = Atomic<UInt>(0)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // `any()` is the calling thread's own loop when it is one, so a job stays where it began.
        MultiThreadedEventLoopGroup.singleton.any().execute {
            self.lock.withLock { _ in
                self.owner.store(Self.thread, ordering: .relaxed)
                defer { self.owner.store(0, ordering: .relaxed) }
                job.runSynchronously(on: self.asUnownedSerialExecutor())
            }
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
