import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Picks a TCP port for a server vramd starts.
enum FreePort {
    /// A port on 127.0.0.1 that is free now, below the kernel's ephemeral range when it can.
    ///
    /// The child binds it only once it has started (seconds, for a Python server on a busy
    /// machine), and another process could take the port meanwhile; the child then exits with
    /// "address in use" and the load fails. Ports the kernel hands out itself (every outgoing
    /// connection, every bind to port 0) come from the ephemeral range, which is where a port
    /// found by binding to port 0 lies too: with many connections being opened, such a port was
    /// taken often enough to fail loads. A port below that range is only ever taken by a
    /// program that names it.
    static func pick() throws -> Int {
        let ephemeralStart = ephemeralRangeStart()
        if ephemeralStart > 11_024 {
            for _ in 0..<32 {
                let port = Int.random(in: 10_000..<(ephemeralStart - 1_024))
                if (try? bind(port: port)) != nil { return port }
            }
        }
        return try bind(port: 0)
    }

    /// The lowest ephemeral port (`/proc/sys/net/ipv4/ip_local_port_range`), or 0 if unknown.
    private static func ephemeralRangeStart() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 0
    }

    /// Binds a socket to `port` on 127.0.0.1 (0: any free one), releases it, and returns the port.
    private static func bind(port: Int) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BackendError("cannot open a socket to find a free port (errno \(errno))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                Glibc.bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw BackendError("cannot bind a socket to find a free port (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
