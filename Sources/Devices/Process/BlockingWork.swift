import Dispatch

/// Where vramd does its blocking work: reading `/proc`, calling into NVML, waiting on a child.
///
/// Swift's cooperative pool has one thread per core (two here); a blocking call there stalls every
/// task behind it. Dispatch's threads are separate from that pool, and a concurrent queue grows
/// threads as blocked items need them.
public enum BlockingWork {
    private static let queue = DispatchQueue(label: "vramd.blocking-work", attributes: .concurrent)

    /// Runs `body` on a Dispatch thread and returns its result to the calling task.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
