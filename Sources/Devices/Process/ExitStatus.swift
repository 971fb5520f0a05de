#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
public struct ExitStatus: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case exited(Int32)
        case signaled(Int32)
    }

    private let kind: Kind

    private init(kind: Kind) { self.kind = kind }

    /// The child called `exit` with this code.
    public static func exited(_ code: Int32) -> ExitStatus { ExitStatus(kind: .exited(code)) }
    /// The child was killed by this signal.
    public static func signaled(_ signal: Int32) -> ExitStatus { ExitStatus(kind: .signaled(signal)) }

    /// The exit code, if the child exited by itself.
    public var code: Int32? {
        if case .exited(let code) = kind { return code }
        return nil
    }

    /// The signal that killed the child, if one did.
    public var signal: Int32? {
        if case .signaled(let signal) = kind { return signal }
        return nil
    }

    /// Whether the child exited with code 0.
    public var isSuccess: Bool { code == 0 }

    /// Decodes the status word `waitpid` fills in (the `WIFEXITED` family are macros Swift cannot
    /// import): the low 7 bits hold the terminating signal, zero for a normal exit, whose code is
    /// in the next byte.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        kind = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    public var description: String {
        switch kind {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal):
            if let name = strsignal(signal) { "killed by signal \(signal) (\(String(cString: name)))" }
            else { "killed by signal \(signal)" }
        }
    }
}

/// Why a child process could not be started or talked to.
public struct ChildProcessError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The `errno` value behind the failure, when there is one.
    public var errno: Int32?

    public init(_ message: String, errno: Int32? = nil) {
        self.message = message
        self.errno = errno
    }

    public var description: String {
        guard let errno else { return message }
        return "\(message): \(String(cString: strerror(errno)))"
    }
}
