import Devices
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// A process backend's output file as a response: its last lines, then, when following, what
/// is appended, as `tail -f` does, until the client leaves or vramd shuts down.
///
/// The file is read on ``BlockingWork``'s threads, never on the event loop or the cooperative
/// pool. A file that shrinks (a new run truncating it) is read again from its start.
struct ModelLogStream: Sendable {
    let path: String
    let lines: Int
    let follow: Bool
    var pollInterval: Duration = .milliseconds(250)

    func body() -> ResponseBody {
        ResponseBody { writer in
            var offset = 0
            do {
                let (tail, end) = try await BlockingWork.run { [path, lines] in try Self.lastLines(of: path, count: lines) }
                offset = end
                if !tail.isEmpty { try await writer.write(ByteBuffer(bytes: tail)) }
                if follow {
                    // Shutdown ends the stream: an open tail must not hold the server's drain.
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        try await Task.sleep(for: pollInterval)
                        let (chunk, next) = try await BlockingWork.run { [path, offset] in try Self.read(path, from: offset) }
                        offset = next
                        if !chunk.isEmpty { try await writer.write(ByteBuffer(bytes: chunk)) }
                    }
                }
            } catch {
                // The client left, or the file cannot be read: end the response.
            }
            try? await writer.finish(nil)
        }
    }

    /// The last `count` lines of the file and its size (missing file: nothing, 0).
    static func lastLines(of path: String, count: Int) throws -> ([UInt8], Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], 0) }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        let window = min(size, max(64 << 10, count * 512))
        try handle.seek(toOffset: UInt64(size - window))
        let data = [UInt8](try handle.read(upToCount: window) ?? Data())
        let start = startOfLastLines(data, count: count)
        return (Array(data[start...]), size)
    }

    /// Where the last `count` lines begin in `data`.
    static func startOfLastLines(_ data: [UInt8], count: Int) -> Int {
        guard count > 0 else { return data.count }
        var seen = 0
        var index = data.count - 1
        if index >= 0 && data[index] == UInt8(ascii: "\n") { index -= 1 }
        while index >= 0 {
            if data[index] == UInt8(ascii: "\n") {
                seen += 1
                if seen == count { return index + 1 }
            }
            index -= 1
        }
        return 0
    }

    /// The bytes after `offset` and the new end; from the start when the file got shorter.
    static func read(_ path: String, from offset: Int) throws -> ([UInt8], Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], 0) }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        let start = size < offset ? 0 : offset
        guard size > start else { return ([], size) }
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.read(upToCount: size - start) ?? Data()
        return ([UInt8](data), start + data.count)
    }
}
