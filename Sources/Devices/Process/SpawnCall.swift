import CShims
#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose two ends are close-on-exec, so a child spawned concurrently for another model
/// does not inherit them and hold the pipe open after this child has gone.
struct CloseOnExecPipe {
    let read: Int32
    let write: Int32

    init() throws(ChildProcessError) {
        var fds: [Int32] = [-1, -1]
        guard vramd_pipe_cloexec(&fds) == 0 else { throw ChildProcessError("cannot create a pipe", errno: errno) }
        read = fds[0]
        write = fds[1]
    }

    func closeBoth() {
        close(read)
        close(write)
    }
}

/// The `posix_spawn` call and its preparation.
enum SpawnCall {
    /// Signals whose handling vramd (or the Swift runtime) may have changed and a child must get
    /// back at their defaults; ignored signals would otherwise survive `exec`.
    private static let defaultSignals = [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM]

    static func spawn(argv: [String], environment: [String: String]?, newProcessGroup: Bool,
                      standardInput: Int32?, output: Int32) throws(ChildProcessError) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput {
            posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // Descriptors vramd opened without close-on-exec (by libraries) stay out of the child.
        _ = vramd_spawn_add_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let cArguments = argv.map { strdup($0) } + [nil]
        let environmentLines = environment.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }
        let cEnvironment = environmentLines.map { $0.map { strdup($0) } + [nil] }
        defer {
            cArguments.forEach { free($0) }
            cEnvironment?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = cArguments.withUnsafeBufferPointer { arguments in
            if let cEnvironment {
                return cEnvironment.withUnsafeBufferPointer { env in
                    posix_spawnp(&pid, argv[0], &actions, &attributes, arguments.baseAddress!, env.baseAddress!)
                }
            }
            return posix_spawnp(&pid, argv[0], &actions, &attributes, arguments.baseAddress!, environ)
        }
        guard result == 0 else { throw ChildProcessError("cannot start \(argv[0])", errno: result) }
        return pid
    }
}

/// Splits a byte stream into lines as it arrives.
enum LineReader {
    /// A line longer than this is passed on in pieces, so a child printing without newlines cannot
    /// make vramd buffer without bound.
    static let maximumLineLength = 16 * 1024

    /// Reads `fd` to end of file, calling `onLine` for every line (and for a last unterminated one).
    static func readLines(from fd: Int32, onLine: (String) -> Void) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            var start = 0
            for index in 0..<count where chunk[index] == UInt8(ascii: "\n") {
                pending.append(contentsOf: chunk[start..<index])
                onLine(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            pending.append(contentsOf: chunk[start..<count])
            while pending.count >= maximumLineLength {
                onLine(String(decoding: pending.prefix(maximumLineLength), as: UTF8.self))
                pending.removeFirst(maximumLineLength)
            }
        }
        if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
    }
}
