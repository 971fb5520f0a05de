import Foundation
import Testing
@testable import Broker

/// vramd's own reader of client requests in a running server: it serves plain requests, steps
/// aside for llhttp at the first one that is not, and reads nothing after a request that ends
/// its connection.
@Suite(.timeLimit(.minutes(1)))
struct ClientRequestFrontTests {
    /// A chat `POST` whose body comes in chunks, which vramd's reader leaves to llhttp.
    static func chunkedChat(_ model: String, tag: String) -> String {
        let body = "{\"model\": \"\(model)\", \"tag\": \"\(tag)\"}"
        let half = body.utf8.count / 2
        let first = String(body.prefix(half)), second = String(body.dropFirst(half))
        return "POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(first.utf8.count, radix: 16) + "\r\n" + first + "\r\n"
            + String(second.utf8.count, radix: 16) + "\r\n" + second + "\r\n0\r\n\r\n"
    }

    @Test func aConnectionIsServedBeforeAndAfterItIsLeftToLlhttp() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                var answers = 0
                func exchange(_ request: String, _ expected: String) throws {
                    answers += 1
                    try connection.send(request)
                    try connection.read { $0.occurrences(of: "HTTP/1.1 200 OK") == answers && $0.contains(expected) }
                }
                // The framework's route, then a request taken directly: the reader goes on after
                // a request that is not for the direct path.
                try exchange("GET /healthz HTTP/1.1\r\nHost: vramd\r\n\r\n", "\"status\"")
                try exchange(try RawConnection.chat("a", tag: "f1"), "\"tag\": \"f1\"")
                #expect(try await vramd.scheduler().int("direct") == 1)
                // A chunked body is llhttp's to read; the direct path still serves it, and the
                // next request, from NIO's parts.
                try exchange(Self.chunkedChat("a", tag: "f2"), "\"tag\": \"f2\"")
                try exchange(try RawConnection.chat("a", tag: "f3"), "\"tag\": \"f3\"")
                #expect(try await vramd.scheduler().int("direct") == 3)
                let text = connection.received
                let order = ["status", "f1", "f2", "f3"].map { text.offset(of: $0) ?? -1 }
                #expect(order.allSatisfy { $0 >= 0 } && order == order.sorted(), "\(text)")
                #expect(!connection.closedByServer)
            }
        }
    }

    @Test func aRequestSentAByteAtATimeIsServed() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                for byte in try RawConnection.chat("a", tag: "slow") { try connection.send(String(byte)) }
                try connection.read { $0.contains("\"tag\": \"slow\"") }
                #expect(connection.received.hasPrefix("HTTP/1.1 200 OK"), "\(connection.received)")
                #expect(try await vramd.scheduler().int("direct") == 1)
            }
        }
    }

    /// Clients that declare long bodies and send none of them do not make vramd set aside
    /// room for all of it: eight declaring 60 MiB each would have taken 480 MiB of address
    /// space, which a host that does not overcommit refuses, and Swift traps then.
    @Test func aDeclaredLengthIsNotReservedBeforeItsBytesCome() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let before = try processStatus(vramd.child.pid, "VmSize")
                let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(60 << 20)\r\n\r\n{\"model\": \"a\""
                let clients = try (0..<8).map { _ in try ClientSocket(vramd.url) }
                for client in clients { try client.write(Array(head.utf8)) }
                // vramd has read every head once nothing waits in its sockets.
                while try clients.contains(where: { try $0.unreadByServer() > 0 }) { try await Task.sleep(for: .milliseconds(5)) }
                let growth = try processStatus(vramd.child.pid, "VmSize") - before
                #expect(growth < 128 << 20, "vramd's address space grew by \(growth >> 20) MiB for 8 heads")
            }
        }
    }

    /// Whether the request that ends the connection is taken directly or by the framework.
    @Test(arguments: [true, false])
    func nothingAfterARequestThatEndsItsConnectionIsServed(direct: Bool) async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                let last = direct ? try RawConnection.chat("a", tag: "c1", headers: ["Connection: close"])
                    : "GET /healthz HTTP/1.1\r\nHost: vramd\r\nConnection: close\r\n\r\n"
                try connection.send(last + RawConnection.chat("a", tag: "c2"))
                try connection.read { _ in false }
                #expect(connection.closedByServer)
                let text = connection.received
                #expect(text.occurrences(of: "HTTP/1.1 ") == 1 && text.contains(direct ? "\"tag\": \"c1\"" : "\"status\""), "\(text)")
                #expect(try await vramd.scheduler().int("direct") == (direct ? 1 : 0))
                let requests = try await vramd.scheduler().int("requests")
                #expect(requests == (direct ? 2 : 1), "the warm-up and the last request, not the one after it: \(requests)")
            }
        }
    }
}
