#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// A child process vramd started: its output is read line by line and its exit is seen the moment
/// it happens.
///
/// Each child has two threads of its own: one blocked in `waitpid` for it, one blocked reading its
/// output pipe (standard output and standard error together). Neither blocks the cooperative pool,
/// and neither polls: the exit handler runs as soon as the kernel reports the exit.
///
/// By default the child leads a new process group, so ``signalGroup(_:)`` reaches everything it
/// started too.
public final class ChildProcess: Sendable {
    /// How to start a child.
    public struct Options: Sendable {
        /// The child's whole environment, or `nil` to inherit vramd's.
        public var environment: [String: String]?
        /// Whether the child leads a new process group (it does unless told otherwise).
        public var newProcessGroup: Bool
        /// Whether to give the child a pipe as standard input (``writeToStandardInput(_:)``)
        /// instead of `/dev/null`.
        public var pipeStandardInput: Bool

        public init(environment: [String: String]? = nil, newProcessGroup: Bool = true, pipeStandardInput: Bool = false) {
            self.environment = environment
            self.newProcessGroup = newProcessGroup
            self.pipeStandardInput = pipeStandardInput
        }
    }

    private struct State {
        var exit: ExitStatus?
        var waiters: [UInt64: CheckedContinuation<ExitStatus?, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var standardInput: Int32?
    }

    /// The child's process id; also its process group id when it leads a new group.
    public let pid: Int32
    /// Whether the child leads its own process group.
    public let leadsProcessGroup: Bool
    private let state: Mutex<State>

    private init(pid: Int32, leadsProcessGroup: Bool, standardInput: Int32?) {
        self.pid = pid
        self.leadsProcessGroup = leadsProcessGroup
        state = Mutex(State(standardInput: standardInput))
    }

    /// Starts `argv` (no shell; `argv[0]` is looked up on `PATH`).
    ///
    /// - Parameters:
    ///   - argv: the program and its arguments.
    ///   - options: environment, process group and standard input.
    ///   - onOutputLine: called on the reader thread with each line of output, without its newline.
    ///   - onExit: called on the waiter thread with the child's pid and status as soon as it has
    ///     exited and been reaped, after the output it wrote before exiting has been passed to
    ///     `onOutputLine`.
    /// - Throws: ``ChildProcessError`` when the program cannot be started.
    public static func spawn(
        _ argv: [String],
        options: Options = Options(),
        onOutputLine: @escaping @Sendable (String) -> Void = { _ in },
        onExit: @escaping @Sendable (_ pid: Int32, _ status: ExitStatus) -> Void = { _, _ in }
    ) throws(ChildProcessError) -> ChildProcess {
        guard let program = argv.first, !program.isEmpty else {
            throw ChildProcessError("cannot start a process from an empty command")
        }
        let output = try CloseOnExecPipe()
        var input: CloseOnExecPipe?
        if options.pipeStandardInput {
            _ = ignoreBrokenPipes
            input = try CloseOnExecPipe()
        }
        let pid: Int32
        do {
            pid = try SpawnCall.spawn(argv: argv, environment: options.environment, newProcessGroup: options.newProcessGroup,
                                      standardInput: input?.read, output: output.write)
        } catch {
            output.closeBoth()
            input?.closeBoth()
            throw error
        }
        close(output.write)
        if let input { close(input.read) }

        let child = ChildProcess(pid: pid, leadsProcessGroup: options.newProcessGroup, standardInput: input?.write)
        let outputDone = DispatchSemaphore(value: 0)
        do {
            try DetachedThread.start(name: "out-\(pid)") {
                LineReader.readLines(from: output.read, onLine: onOutputLine)
                close(output.read)
                outputDone.signal()
            }
            try DetachedThread.start(name: "wait-\(pid)") {
                let status = reap(pid)
                // Output written before the exit is already in the pipe; give the reader a moment
                // to pass it on so the exit report carries the last lines. A grandchild that keeps
                // the pipe open must not delay the report, hence the bound.
                _ = outputDone.wait(timeout: .now() + .milliseconds(100))
                // onExit first: whoever waits for the exit must also see what onExit recorded.
                onExit(pid, status)
                child.finish(status)
            }
        } catch {
            // Without its threads the child cannot be watched: do not leave it running unseen.
            kill(pid, SIGKILL)
            throw error
        }
        return child
    }

    /// The exit status, once the child has exited.
    public var exitStatus: ExitStatus? {
        state.withLock { $0.exit }
    }

    /// Waits until the child exits; returns at once if it already has.
    ///
    /// This wait ignores cancellation: use ``exitUnlessCancelled()`` where the caller may give up.
    public func waitForExit() async -> ExitStatus {
        let id = newWaiterID()
        // Only a cancellation handler resumes with nil, and this wait has none.
        return await withCheckedContinuation { register(id, $0, cancellable: false) }!
    }

    /// Waits until the child exits, or returns `nil` as soon as the calling task is cancelled
    /// (for racing the exit against readiness or a timeout).
    public func exitUnlessCancelled() async -> ExitStatus? {
        let id = newWaiterID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { register(id, $0, cancellable: true) }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }

    private func newWaiterID() -> UInt64 {
        state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
    }

    private func register(_ id: UInt64, _ continuation: CheckedContinuation<ExitStatus?, Never>, cancellable: Bool) {
        let resumeNow: ExitStatus?? = state.withLock { state in
            if let exit = state.exit { return .some(exit) }
            // Checked under the lock: a cancellation handler that ran before this found nothing
            // to resume, but the task's cancelled flag was set before it ran.
            if cancellable && Task.isCancelled { return .some(nil) }
            state.waiters[id] = continuation
            return .none
        }
        if let resumeNow { continuation.resume(returning: resumeNow) }
    }

    /// Sends `signal` to the child alone.
    public func signal(_ signal: Int32) {
        // Once reaped, the pid may belong to someone else.
        if exitStatus == nil { kill(pid, signal) }
    }

    /// Sends `signal` to the child's whole process group (to the child alone when it has none).
    ///
    /// The group outlives its leader while any member lives, and Linux does not hand out a process
    /// id that is still a group's id, so this reaches stragglers after the child itself is gone.
    public func signalGroup(_ signal: Int32) {
        if leadsProcessGroup { kill(-pid, signal) } else { self.signal(signal) }
    }

    /// The processes of the child's group that are still alive (the child included), zombies
    /// left out; just the child while it lives when it leads no group. Reads `/proc`: call it off
    /// the cooperative pool or rarely.
    public var liveGroupMembers: [Int32] {
        guard leadsProcessGroup else { return exitStatus == nil ? [pid] : [] }
        return ProcessTree.liveMembers(ofProcessGroup: pid)
    }

    /// Writes text to the child's standard input (when started with `pipeStandardInput`).
    public func writeToStandardInput(_ text: String) throws(ChildProcessError) {
        guard let fd = state.withLock({ $0.standardInput }) else {
            throw ChildProcessError("the child's standard input is not a pipe, or was closed")
        }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw ChildProcessError("cannot write to the child's standard input", errno: errno)
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Closes the child's standard input, so it reads end of file.
    public func closeStandardInput() {
        if let fd = state.withLock({ state in defer { state.standardInput = nil }; return state.standardInput }) {
            close(fd)
        }
    }

    private func finish(_ status: ExitStatus) {
        let (waiters, input) = state.withLock { state in
            state.exit = status
            defer { state.waiters = [:]; state.standardInput = nil }
            return (state.waiters, state.standardInput)
        }
        if let input { close(input) }
        for waiter in waiters.values { waiter.resume(returning: status) }
    }

    private static func reap(_ pid: Int32) -> ExitStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            // EINTR: a signal interrupted the wait. Anything else means the child was reaped by
            // someone else (a SIGCHLD handler set to SIG_IGN); report it as lost.
            if errno != EINTR { return .signaled(SIGKILL) }
        }
        return ExitStatus(waitStatus: status)
    }

    /// A write to a child that has gone raises SIGPIPE, whose default action would end vramd;
    /// with it ignored the write fails with EPIPE instead. Children get the default back at spawn.
    private static let ignoreBrokenPipes: Void = {
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
    }()
}
