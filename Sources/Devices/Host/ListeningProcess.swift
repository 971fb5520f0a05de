#if canImport(Glibc)
import Glibc
#endif

/// Finds the process that listens on a local TCP port, to measure a server vramd did not start
/// (an `http` backend) by its process tree.
public enum ListeningProcess {
    /// The process listening on `port` on this machine, or `nil` if none is visible (not local,
    /// or owned by another user whose file descriptors cannot be read).
    ///
    /// The socket's inode comes from `/proc/net/tcp` and `tcp6` (state `0A`, LISTEN); the owner is
    /// the process with a descriptor linked to `socket:[inode]`. When a server's workers share the
    /// socket, the one that is not a child of another holder is returned: the server itself.
    public static func find(port: Int, procRoot: String = "/proc") async -> Int32? {
        try? await BlockingWork.run { findNow(port: port, procRoot: procRoot) }
    }

    static func findNow(port: Int, procRoot: String) -> Int32? {
        var inodes: Set<String> = []
        for table in ["tcp", "tcp6"] {
            guard let text = ProcFiles.read("\(procRoot)/net/\(table)") else { continue }
            inodes.formUnion(listeningInodes(in: text, port: port))
        }
        guard !inodes.isEmpty else { return nil }
        var holders: [Int32] = []
        for pid in ProcFiles.numericEntries(of: procRoot) {
            let directory = "\(procRoot)/\(pid)/fd"
            for fd in ProcFiles.numericEntries(of: directory) {
                if let target = readLink("\(directory)/\(fd)"), target.hasPrefix("socket:["),
                   inodes.contains(String(target.dropFirst(8).dropLast())) {
                    holders.append(pid)
                    break
                }
            }
        }
        let holderSet = Set(holders)
        return holders.first { pid in
            guard let stat = ProcFiles.read("\(procRoot)/\(pid)/stat"), let parent = ProcessTree.parentPID(fromStat: stat) else { return true }
            return !holderSet.contains(parent)
        }
    }

    /// The inodes of sockets listening on `port` in a `/proc/net/tcp` table.
    static func listeningInodes(in table: String, port: Int) -> [String] {
        table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            // sl, local address (hex ip:hex port), remote address, state, queues, timer, retransmits, uid, timeout, inode
            guard fields.count > 9, fields[3] == "0A",
                  let colon = fields[1].lastIndex(of: ":"), Int(fields[1][fields[1].index(after: colon)...], radix: 16) == port
            else { return nil }
            return String(fields[9])
        }
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
