import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP connection to vramd, for what an HTTP client library hides: several requests in
/// one write (pipelining), a connection the server closes, a client that leaves mid-answer.
final class RawConnection {
    private let socket: Int32
    private(set) var received = ""
    private(set) var closedByServer = false

    /// Connects to `url` (`http://127.0.0.1:PORT`). A small `receiveBuffer` makes a slow reader:
    /// the server's writes wait in its own buffers until this side reads.
    init(_ url: String, receiveBuffer: Int32? = nil) throws {
        socket = try Self.connectedSocket(to: url) { socket in
            if var size = receiveBuffer {
                setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }.socket
    }

    /// A TCP socket connected to `url` (`http://127.0.0.1:PORT`), and that port; `configure`
    /// sets the socket up before it connects.
    static func connectedSocket(to url: String, configure: (Int32) -> Void = { _ in }) throws -> (socket: Int32, port: Int) {
        guard let port = URL(string: url)?.port else { throw HarnessError("no port in \(url)") }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        configure(socket)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw HarnessError("cannot connect to \(url): errno \(errno)")
        }
        return (socket, port)
    }

    deinit { close(socket) }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw HarnessError("send failed: errno \(errno)") }
            bytes = bytes.dropFirst(sent)
        }
    }

    /// Reads until `done` holds for what was received, or the server closes the connection;
    /// throws when neither happens within `timeout`.
    func read(timeout: Duration = .seconds(10), until done: (String) -> Bool) throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !done(received) && !closedByServer {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw HarnessError("timed out; received so far:\n\(received)") }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&descriptor, 1, max(1, milliseconds)) > 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 {
                closedByServer = true
            } else {
                received += String(decoding: buffer[..<count], as: UTF8.self)
            }
        }
    }

    /// Closes the connection from this side.
    func hangUp() {
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// A chat request for the test backend, as it goes on the wire.
    static func chat(_ model: String, tag: String, _ extra: [String: Any] = [:], headers: [String] = []) throws -> String {
        var fields: [String: Any] = ["model": model, "tag": tag]
        fields.merge(extra) { $1 }
        return post(String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self), headers: headers)
    }

    /// A chat-completions `POST` of `body` as it is, JSON or not.
    static func post(_ body: String, headers: [String] = []) -> String {
        let head = ["POST /v1/chat/completions HTTP/1.1", "Host: vramd", "Content-Type: application/json",
                    "Content-Length: \(body.utf8.count)"] + headers
        return head.joined(separator: "\r\n") + "\r\n\r\n" + body
    }
}

extension String {
    /// How often `text` occurs.
    func occurrences(of text: String) -> Int {
        components(separatedBy: text).count - 1
    }

    /// Where `text` first occurs, as an offset (nil when it does not).
    func offset(of text: String) -> Int? {
        range(of: text).map { distance(from: startIndex, to: $0.lowerBound) }
    }
}
