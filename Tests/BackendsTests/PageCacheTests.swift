import Backends
import Foundation
import Testing

/// Reading a model's file into the page cache ahead of its load.
struct PageCacheTests {
    @Test(.timeLimit(.minutes(1)))
    func aWarmedFileIsInThePageCache() async throws {
        let path = FileManager.default.temporaryDirectory.appending(path: "vramd-warm-\(UUID().uuidString).bin").path
        try Data(repeating: 7, count: 16 << 20).write(to: URL(filePath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        fsync(fd)  // written back, so its pages are clean and can be dropped
        close(fd)
        PageCache.evict(path)
        let cold = try #require(PageCache.residentShare(path))
        #expect(cold < 0.5, "dropped from the page cache: \(cold)")
        #expect(await PageCache.warm(path))
        let warm = try #require(PageCache.residentShare(path))
        #expect(warm > 0.99, "in the page cache after warming: \(warm)")
        #expect(await PageCache.warm(path + ".missing") == false)
    }
}
