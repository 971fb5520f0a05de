#if canImport(Glibc)
import Glibc
#endif

/// Picks a TCP port for a server vramd starts.
enum FreePort {
    /// Asks the kernel for a free port on 127.0.0.1 by binding to port 0, then releases it.
    ///
    /// Another process could take the port between this and the child's bind; the kernel hands
    /// out ephemeral ports in a rotating order, which makes that rare, and the child then exits at
    /// once with "address in use", which fails the load with that message rather than hanging.
    static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BackendError("cannot open a socket to find a free port (errno \(errno))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw BackendError("cannot bind a socket to find a free port (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
