#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small synchronous readers for the files under `/proc`.
///
/// Files in `/proc` report a size of zero and are generated on read, so they are read to the end
/// in chunks rather than by size. Callers run these off the cooperative pool (``BlockingWork``).
enum ProcFiles {
    /// The whole file as text, or `nil` when it cannot be opened (the process is gone).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The numeric entries of a directory: the process ids under `/proc`.
    static func numericEntries(of directory: String) -> [Int32] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var result: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = Int32(name) { result.append(pid) }
        }
        return result
    }

    /// The `Key: value kB` fields of a `/proc` file (`meminfo`, `PID/status`) in bytes.
    ///
    /// Only fields whose value is a number are kept; a `kB` unit is multiplied out.
    static func kilobyteFields(_ text: String) -> [Substring: UInt64] {
        var fields: [Substring: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let parts = line[line.index(after: colon)...].split { $0 == " " || $0 == "\t" }
            guard let first = parts.first, let value = UInt64(first) else { continue }
            let isKilobytes = parts.count > 1 && parts[1] == "kB"
            fields[line[..<colon]] = isKilobytes ? value * 1024 : value
        }
        return fields
    }
}
