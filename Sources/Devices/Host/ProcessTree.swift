/// The process tree under one root, read from `/proc`, and what its processes hold in memory.
///
/// Children are found by parent id from `/proc/PID/stat` of every process, which works on every
/// kernel (`/proc/PID/task/TID/children` needs `CONFIG_PROC_CHILDREN` and misses re-parented
/// threads' children). A process that exits during the walk simply drops out.
public struct ProcessTree: Sendable, Hashable {
    /// The processes of the tree, root first, then breadth first.
    public var pids: [Int32]

    /// Walks `/proc` (or another mount of procfs) for `root` and its descendants.
    ///
    /// - Returns: the tree; empty when `root` does not exist.
    public static func read(root: Int32, procRoot: String = "/proc") -> ProcessTree {
        var children: [Int32: [Int32]] = [:]
        var exists = false
        for pid in ProcFiles.numericEntries(of: procRoot) {
            guard let stat = ProcFiles.read("\(procRoot)/\(pid)/stat"), let parent = parentPID(fromStat: stat) else { continue }
            children[parent, default: []].append(pid)
            if pid == root { exists = true }
        }
        guard exists else { return ProcessTree(pids: []) }
        var pids = [root]
        var index = 0
        while index < pids.count {
            pids += (children[pids[index]] ?? []).sorted()
            index += 1
        }
        return ProcessTree(pids: pids)
    }

    /// The parent id in a `/proc/PID/stat` line.
    static func parentPID(fromStat stat: String) -> Int32? {
        guard let fields = fieldsAfterName(stat), fields.count >= 2 else { return nil }
        return Int32(fields[1])
    }

    /// The processes of process group `group` that have not exited.
    ///
    /// Zombies are left out: an exited process whose parent has not reaped it yet holds no memory
    /// and runs nothing, and when an orphan's new parent is an init that reaps lazily (as in some
    /// containers) it can stay a zombie for seconds.
    public static func liveMembers(ofProcessGroup group: Int32, procRoot: String = "/proc") -> [Int32] {
        ProcFiles.numericEntries(of: procRoot).filter { pid in
            guard let stat = ProcFiles.read("\(procRoot)/\(pid)/stat"), let fields = fieldsAfterName(stat), fields.count >= 3 else {
                return false
            }
            return fields[0] != "Z" && fields[0] != "X" && Int32(fields[2]) == group
        }
    }

    /// The fields of a `/proc/PID/stat` line after the command name: state, parent, group, …
    ///
    /// The command name in parentheses may itself contain spaces and parentheses, so the fields
    /// are counted from the last `)`.
    private static func fieldsAfterName(_ stat: String) -> [Substring]? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// What the tree's processes hold in RAM, summed from `/proc/PID/status`.
    ///
    /// `bytes` is VmRSS (all resident pages, file-backed ones included: a model file llama.cpp maps
    /// is memory it needs); `countedInUsed` is RssAnon + RssShmem, the part the kernel does not
    /// count as available; `peakBytes` sums VmHWM. Pages shared between processes of the tree are
    /// counted once per process, as RSS does.
    public func residentUsage(procRoot: String = "/proc") -> ProcessTreeUsage {
        var rss: UInt64 = 0, counted: UInt64 = 0, peak: UInt64 = 0
        var alive: [Int32] = []
        for pid in pids {
            guard let status = ProcFiles.read("\(procRoot)/\(pid)/status") else { continue }
            let fields = ProcFiles.kilobyteFields(status)
            alive.append(pid)
            rss += fields["VmRSS"] ?? 0
            counted += (fields["RssAnon"] ?? 0) + (fields["RssShmem"] ?? 0)
            peak += fields["VmHWM"] ?? 0
        }
        return ProcessTreeUsage(pids: alive, bytes: rss, countedInUsed: counted, peakBytes: peak)
    }
}
