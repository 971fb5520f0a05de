#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension ChildProcess {
    /// What a command printed and how it ended.
    public struct Completed: Sendable {
        public var status: ExitStatus
        /// Standard output and standard error, interleaved as written, line by line.
        public var lines: [String]
    }

    /// Runs a command to its end and collects its output (for short tools such as `nvidia-smi`).
    ///
    /// - Throws: ``ChildProcessError`` when it cannot be started.
    public static func run(_ argv: [String], environment: [String: String]? = nil) async throws -> Completed {
        let lines = Mutex<[String]>([])
        let child = try spawn(argv, options: Options(environment: environment)) { line in
            lines.withLock { $0.append(line) }
        }
        let status = await withTaskCancellationHandler {
            await child.waitForExit()
        } onCancel: {
            child.signalGroup(SIGKILL)
        }
        return Completed(status: status, lines: lines.withLock { $0 })
    }
}
