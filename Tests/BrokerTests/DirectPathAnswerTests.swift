import Foundation
import Testing
@testable import Broker

/// What the direct path makes of every framing a backend may answer with, byte for byte as the
/// backend wrote it (the test backend's `raw`), seen on the client's wire.
@Suite(.timeLimit(.minutes(1)))
struct DirectPathAnswerTests {
    /// The wire answer to one direct request whose backend writes `raw` (and hangs up with
    /// `close`); the connection is left open when the answer allows.
    static func exchange(_ vramd: Vramd, raw: String, close: Bool = false, until done: @escaping (String) -> Bool) throws -> RawConnection {
        let connection = try RawConnection(vramd.url)
        try connection.send(try RawConnection.chat("a", tag: "raw", ["raw": raw, "close": close]))
        try connection.read(until: done)
        return connection
    }

    @Test func anAnswerThatEndsWithTheBackendsConnectionIsChunkedForTheClient() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: kept\r\n\r\nread until the end"
                let connection = try Self.exchange(vramd, raw: raw, close: true) { $0.hasSuffix("0\r\n\r\n") }
                let text = connection.received
                #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n") && text.contains("Transfer-Encoding: chunked\r\n"), "\(text)")
                #expect(text.contains("X-Backend: kept\r\n") && text.contains("read until the end"), "\(text)")
                #expect(!connection.closedByServer, "the client's connection outlives the backend's")
                // The same client connection carries the next request.
                try connection.send(try RawConnection.chat("a", tag: "next"))
                try connection.read { $0.contains("\"tag\": \"next\"") }
                #expect(try await vramd.scheduler().int("direct") == 2)
            }
        }
    }

    @Test func chunksSmallAndLargeArriveWhole() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                // Past DirectWire.copiedChunk a chunk's data is written as it came, not copied.
                let large = String(repeating: "L", count: 20_000)
                let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nsmall\r\n" + String(large.utf8.count, radix: 16) + "\r\n" + large + "\r\n0\r\n\r\n"
                let reply = try await vramd.chat("a", ["raw": raw])
                #expect(reply.status == 200 && reply.text == "small" + large, "\(reply.text.prefix(80))")
                #expect(try await vramd.scheduler().int("direct") == 1)
            }
        }
    }

    @Test func interimAnswersAreNotPassedOnAndTheBackendsFieldsAreReplacedWhereVramdWritesItsOwn() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let raw = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
                    + "HTTP/1.1 299 Custom Reason\r\nServer: backend\r\nDate: yesterday\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
                let connection = try Self.exchange(vramd, raw: raw) { $0.hasSuffix("\r\n\r\nok") }
                let text = connection.received
                #expect(text.hasPrefix("HTTP/1.1 299 Custom Reason\r\n") && !text.contains("103") && !text.contains("Link:"), "\(text)")
                #expect(text.contains("Server: vramd\r\n") && !text.contains("backend") && !text.contains("yesterday"), "\(text)")
                #expect(text.contains("Content-Length: 2\r\n") && !text.contains("Connection:"), "\(text)")
            }
        }
    }

    @Test func aMalformedAnswerIsAStructuredErrorAndTheBackendConnectionIsNotReused() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                for raw in ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok",
                            "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
                            "HTTP/1.1 200 OK\r\nX-Control: a\u{1}b\r\nContent-Length: 2\r\n\r\nok"] {
                    let reply = try await vramd.chat("a", tag: "bad", ["raw": raw])
                    #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(raw.debugDescription): \(reply)")
                    // The backend's next request comes on a new connection, and is answered.
                    #expect(try await vramd.chat("a", tag: "after").status == 200)
                }
                // Sent once each: an answer that cannot be read is not a reason to send again.
                #expect(backend.output.all.filter { $0 == "start bad" }.count == 3, "\(backend.output.all)")
                // A stream already begun can only be cut short.
                let broken = try RawConnection(vramd.url)
                try broken.send(try RawConnection.chat("a", tag: "chunks", ["raw": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nzz\r\n"]))
                try broken.read { _ in false }
                #expect(broken.closedByServer && broken.received.contains("ab") && !broken.received.hasSuffix("0\r\n\r\n"), "\(broken.received)")
                #expect(try await vramd.chat("a", tag: "after").status == 200)
                #expect(try await vramd.scheduler().int("direct") == 8)
                #expect(try await vramd.model("a").int("in_flight") == 0)
            }
        }
    }

    @Test func bytesAfterAnAnswerCloseTheBackendConnection() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                // An answer, then the start of another nobody asked for: the first goes to the
                // client, and the connection that carried the extra bytes is not used again.
                let raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
                let reply = try await vramd.chat("a", ["raw": raw])
                #expect(reply.status == 200 && reply.text == "ok", "\(reply)")
                let next = try await vramd.chat("a", tag: "clean")
                #expect(next.status == 200, "\(next)")
                #expect(try next.json()["tag"] as? String == "clean")
            }
        }
    }
}
