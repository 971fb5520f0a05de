import Foundation
import Synchronization
import Testing
@testable import Devices

#if canImport(Glibc)
import Glibc
#endif

/// A client that pipelines requests faster than they are answered is read no faster than it is
/// answered: what it sends while an answer is in progress waits in the socket's buffers, where
/// TCP slows it down, not in vramd's memory.
@Suite(.timeLimit(.minutes(2)))
struct PipelinedReadingTests {
    static let requests = 32
    /// 32 requests of 512 KiB: 16 MiB sent while the first answer is held.
    static let pad = String(repeating: "x", count: 512 << 10)

    /// `chunked` sends every request in chunks, which vramd's reader leaves to llhttp: the
    /// parts then wait in the direct path's own queue instead of the reader's.
    @Test(arguments: [false, true])
    func aPipeliningClientIsReadNoFasterThanItIsAnswered(chunked: Bool) async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                // Loads the model, and grows vramd's allocator to the size of these bodies.
                for index in 0..<4 { #expect(try await vramd.chat("a", tag: "w\(index)", ["pad": Self.pad]).status == 200) }
                let before = try peakResident(vramd.child.pid)

                let client = try PipeliningClient(vramd.url)
                try client.write(Self.request(tag: "held", ["gate": "held"], chunked: chunked))
                await backend.started("held")
                client.startWriting(Self.requests) { Self.request(tag: "p\($0)", ["pad": Self.pad], chunked: chunked) }
                // Until vramd leaves bytes unread in its socket (it stopped reading), or the client
                // has sent everything (vramd read it all, or the kernel could hold it all).
                while !client.finishedWriting, try client.unreadByServer() < 32 << 10 {
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await backend.open("held")

                let text = try client.readAnswers(Self.requests + 1)
                let tags = Self.tags(in: text)
                #expect(tags == ["held"] + (0..<Self.requests).map { "p\($0)" }, "\(tags.prefix(5)) … \(tags.count) tags")
                let growth = try peakResident(vramd.child.pid) - before
                #expect(growth < 8 << 20, "vramd's peak resident memory grew by \(growth >> 20) MiB while 16 MiB were pipelined")
            }
        }
    }

    static func request(tag: String, _ extra: [String: Any], chunked: Bool) -> [UInt8] {
        var fields: [String: Any] = ["model": "a", "tag": tag]
        fields.merge(extra) { $1 }
        let body = try! JSONSerialization.data(withJSONObject: fields)
        guard chunked else { return Array(RawConnection.post(String(decoding: body, as: UTF8.self)).utf8) }
        let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + String(body.count, radix: 16) + "\r\n"
        return Array(head.utf8) + Array(body) + Array("\r\n0\r\n\r\n".utf8)
    }

    /// The `tag` of every answer in `text`, in order.
    static func tags(in text: String) -> [String] {
        text.components(separatedBy: "\"tag\": \"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }
}

/// vramd's peak resident memory so far (VmHWM).
private func peakResident(_ pid: Int32) throws -> Int {
    let status = try #require(ProcFiles.read("/proc/\(pid)/status"))
    return Int(try #require(ProcFiles.kilobyteFields(status)["VmHWM"]))
}

/// One connection written from a thread of its own, which blocks when the kernel's buffers are
/// full, while the test reads the answers.
private final class PipeliningClient: Sendable {
    let socket: Int32
    let serverPort: Int
    let clientPort: Int
    private let finished = Atomic(false)

    init(_ url: String) throws {
        let port = try #require(URL(string: url)?.port)
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard connected == 0, named == 0 else {
            close(socket)
            throw HarnessError("cannot connect to \(url): errno \(errno)")
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

