import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A child's output: the last lines in memory for exit reports, everything in a log file.
///
/// Lines arrive on the child's reader thread, so the ring sits behind a `Mutex` and the file is
/// written there too, never on the cooperative pool.
final class OutputLog: Sendable {
    private struct Ring {
        var lines: [String] = []
        var next = 0
    }

    /// The log file, or `nil` when output is kept in memory only.
    let path: String?
    private let capacity: Int
    private let ring = Mutex(Ring())
    private let fd: Int32

    /// Opens (appending to) `directory/<model>.log`, creating the directory if needed.
    init(model: String, directory: String?, capacity: Int = 50) {
        self.capacity = capacity
        guard let directory else {
            path = nil
            fd = -1
            return
        }
        // With its parents: the state directory itself may not exist before the first load.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let safeName = String(model.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        let path = "\(directory)/\(safeName).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        self.fd = fd
        self.path = fd >= 0 ? path : nil
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Keeps one line of output.
    func append(_ line: String) {
        ring.withLock { ring in
            if ring.lines.count < capacity {
                ring.lines.append(line)
            } else {
                ring.lines[ring.next] = line
            }
            ring.next = (ring.next + 1) % capacity
        }
        write(line + "\n")
    }

    /// Writes a line of vramd's own (a start marker) to the log file only.
    func note(_ line: String) {
        write("--- vramd: \(line)\n")
    }

    /// The kept lines, oldest first.
    var lastLines: [String] {
        ring.withLock { ring in
            guard ring.lines.count == capacity else { return ring.lines }
            return Array(ring.lines[ring.next...] + ring.lines[..<ring.next])
        }
    }

    private func write(_ text: String) {
        guard fd >= 0 else { return }
        // One write per line with O_APPEND keeps lines whole even when two children share a file.
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
