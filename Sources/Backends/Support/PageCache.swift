import Devices
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a model's files into the page cache ahead of its load, so a load that had to wait for
/// room (or a model likely to come next) is not also waiting on the disk.
public enum PageCache {
    /// Reads `path` through, on a thread of its own, so every page of it is in the page cache
    /// (`POSIX_FADV_WILLNEED` alone reads only as far as the kernel's readahead limit). False when
    /// the file cannot be opened.
    @discardableResult
    public static func warm(_ path: String) async -> Bool {
        let result = try? await BlockingWork.run {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_WILLNEED))
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
            return true
        }
        return result ?? false
    }

    /// The share of `path`'s pages in the page cache now, 0 to 1 (`mincore`); `nil` when the
    /// file cannot be read.
    public static func residentShare(_ path: String) -> Double? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let size = Int(info.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        defer { munmap(map, size) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard mincore(map, size, &vector) == 0 else { return nil }
        return Double(vector.filter { $0 & 1 == 1 }.count) / Double(vector.count)
    }

    /// Drops `path`'s clean pages from the page cache (`POSIX_FADV_DONTNEED`): a cold start to
    /// measure against.
    public static func evict(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    }
}
