import Foundation
import Synchronization
import Testing
@testable import Devices

#if canImport(Glibc)
import Glibc
#endif

/// A field of `/proc/PID/status` in bytes (`VmHWM`: the peak resident memory so far; `VmSize`:
/// the address space).
func processStatus(_ pid: Int32, _ field: Substring) throws -> Int {
    let status = try #require(ProcFiles.read("/proc/\(pid)/status"))
    return Int(try #require(ProcFiles.kilobyteFields(status)[field]))
}

/// A blocking client connection that can be written from a thread of its own (which blocks when
/// the kernel's buffers are full) while the test reads the answers, and that tells what the
/// server has left unread in its socket.
final class ClientSocket: Sendable {
    let socket: Int32
    let serverPort: Int
    let clientPort: Int
    private let finished = Atomic(false)

    init(_ url: String) throws {
        let (socket, port) = try RawConnection.connectedSocket(to: url)
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else {
            close(socket)
            throw HarnessError("cannot name the socket connected to \(url): errno \(errno)")
        }
        self.socket = socket
        serverPort = port
        clientPort = Int(UInt16(bigEndian: local.sin_port))
    }

    deinit { close(socket) }

    var finishedWriting: Bool { finished.load(ordering: .acquiring) }

    func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw HarnessError("send failed: errno \(errno)") }
            sent += count
        }
    }

    /// Writes `count` requests made by `request`, one after another, on a thread that blocks
    /// while vramd does not read.
    func startWriting(_ count: Int, _ request: @escaping @Sendable (Int) -> [UInt8]) {
        Thread {
            for index in 0..<count { guard (try? self.write(request(index))) != nil else { return } }
            self.finished.store(true, ordering: .releasing)
        }.start()
    }

    /// The bytes the kernel holds for vramd that vramd has not read, from `/proc/net/tcp`'s line
    /// for the server's end of this connection.
    func unreadByServer() throws -> Int {
        let table = try #require(ProcFiles.read("/proc/net/tcp"))
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 4, Self.port(fields[1]) == serverPort, Self.port(fields[2]) == clientPort,
                  let queue = fields[4].split(separator: ":").last, let unread = Int(queue, radix: 16) else { continue }
            return unread
        }
        throw HarnessError("no line for 127.0.0.1:\(serverPort) ← :\(clientPort) in /proc/net/tcp")
    }

    private static func port(_ address: Substring) -> Int? {
        address.split(separator: ":").last.flatMap { Int($0, radix: 16) }
    }

    /// Reads until `count` answers have come.
    func readAnswers(_ count: Int, timeout: Duration = .seconds(60)) throws -> String {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let mark = Array("HTTP/1.1 200 OK".utf8)
        var received: [UInt8] = [], answers = 0, searched = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while answers < count {
            guard ContinuousClock.now < deadline else { throw HarnessError("\(answers) of \(count) answers came") }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            let read = recv(socket, &buffer, buffer.count, 0)
            guard read > 0 else { throw HarnessError("vramd closed the connection after \(answers) of \(count) answers") }
            received += buffer[..<read]
            while searched + mark.count <= received.count {
                if received[searched..<searched + mark.count].elementsEqual(mark) { answers += 1 }
                searched += 1
            }
        }
        return String(decoding: received, as: UTF8.self)
    }
}

