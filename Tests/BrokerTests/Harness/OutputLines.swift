import Foundation
import Synchronization

/// The lines a child prints, kept, with waits for a line (or a state of all lines) to come.
final class OutputLines: Sendable {
    private struct Waiter {
        var id: UUID
        var condition: @Sendable ([String]) -> String??
        var continuation: CheckedContinuation<String?, Never>
    }

    private struct State {
        var lines: [String] = []
        var finished = false
        var waiters: [Waiter] = []
    }

    private let state = Mutex(State())

    var all: [String] { state.withLock { $0.lines } }

    func append(_ line: String) {
        let ready = state.withLock { state in
            state.lines.append(line)
            var ready: [(CheckedContinuation<String?, Never>, String?)] = []
            state.waiters.removeAll { waiter in
                guard let answer = waiter.condition(state.lines) else { return false }
                ready.append((waiter.continuation, answer))
                return true
            }
            return ready
        }
        for (continuation, answer) in ready { continuation.resume(returning: answer) }
    }

    /// Called when the child has exited: no more lines will come.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    /// Waits until `condition` answers for the lines so far; `nil` once the child has exited
    /// without that, or when the waiting task is cancelled (a test past its time limit).
    private func wait(_ condition: @escaping @Sendable ([String]) -> String??) async -> String? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let answer: String?? = state.withLock { state in
                    if let answer = condition(state.lines) { return .some(answer) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return .none
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume(returning: nil)
        }
    }

    /// The first line (already printed or still to come) that matches, or `nil` once the child has
    /// exited without printing one.
    @discardableResult
    func first(where predicate: @escaping @Sendable (String) -> Bool) async -> String? {
        await wait { lines in lines.first(where: predicate).map { .some($0) } }
    }

    /// Waits until the lines so far satisfy `condition`; false if the child exited first.
    @discardableResult
    func waitUntil(_ condition: @escaping @Sendable ([String]) -> Bool) async -> Bool {
        await wait { lines in condition(lines) ? .some("") : nil } != nil
    }
}
