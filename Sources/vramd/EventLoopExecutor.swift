import CGlobalExecutorHook
import NIOCore
import NIOPosix
import Synchronization

/// Runs Swift concurrency's global jobs on NIO's event loops instead of the runtime's own pool.
///
/// A proxied request otherwise crosses threads at every step: the connection's event loop hands
/// the request to a pool thread, the scheduler and the upstream client hand it back to an event
/// loop, and each crossing wakes a sleeping thread. On a small machine those wake-ups were most
/// of the time vramd added to a request. Here a job stays on the loop it was enqueued from, so
/// a request mostly runs on its connection's thread.
///
/// This is what `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`
/// does, but that finds the runtime's hook with `dlsym`, which fails in the static build vramd
/// ships as; the hook's address comes from the linker here instead. The same rule applies: nothing
/// that runs as a task may block its thread for long, because that thread is an event loop.
enum EventLoopExecutor {
    /// The runtime calls the hook with the job and its own enqueue function, which is not needed.
    private typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Whether ``install()`` put the hook in place (`vramd serve` logs it at start).
    static let installed = Atomic(false)

    /// Installs the hook. Call it once, before the first task is created.
    /// - Returns: false when another hook was there already (then nothing changes).
    @discardableResult
    static func install() -> Bool {
        let slot = vramd_swift_task_enqueueGlobal_hook_slot()
        guard slot.pointee == nil else { return false }
        return withUnsafeTemporaryAllocation(of: EnqueueGlobalHook.self, capacity: 1) { hook in
            hook.baseAddress!.initialize(to: { job, _ in
                // `any()` returns the calling thread's loop when it is one of the group's, so a
                // job enqueued from an event loop stays there.
                MultiThreadedEventLoopGroup.singleton.any().executor.enqueue(ExecutorJob(job))
            })
            return hook.baseAddress!.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 1) { pointer in
                slot.pointee = pointer.pointee
                installed.store(true, ordering: .relaxed)
                return true
            }
        }
    }
}
