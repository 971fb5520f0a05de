import Foundation
import Testing
@testable import Broker

/// HTTP/1.0 clients (`ab`, old health checkers, scripts on raw sockets): no chunked
/// framing, which they cannot read, and keep-alive only when they asked for it and the answer's
/// length is known.
@Suite(.timeLimit(.minutes(1)))
struct HTTP10Tests {
    /// `request` as HTTP/1.0.
    static func old(_ request: String) -> String {
        request.replacingOccurrences(of: " HTTP/1.1\r\n", with: " HTTP/1.0\r\n")
    }

    /// The head of an answer as received, and its body.
    static func split(_ received: String) -> (head: String, body: String) {
        guard let end = received.range(of: "\r\n\r\n") else { return (received, "") }
        return (String(received[..<end.lowerBound]).lowercased(), String(received[end.upperBound...]))
    }

    @Test func anHTTP10RequestIsAnsweredAndItsConnectionClosed() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(ProxyTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                try connection.send(Self.old(try RawConnection.chat("a", tag: "old")))
                try connection.read { _ in false }
                #expect(connection.closedByServer, "HTTP/1.0 without keep-alive ends with its answer")
                #expect(connection.received.hasPrefix("HTTP/1.0 200 OK") && connection.received.contains("\"tag\": \"old\""),
                        "\(connection.received)")
            }
        }
    }

    @Test func aProxiedStreamEndsWithTheConnectionInsteadOfChunks() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(ProxyTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                // Kept alive or not, a stream has no length an HTTP/1.0 client can be told.
                for headers in [[], ["Connection: keep-alive"]] {
                    let connection = try RawConnection(vramd.url)
                    try connection.send(Self.old(try RawConnection.chat("a", tag: "s", ["stream": true, "chunks": 3], headers: headers)))
                    try connection.read { _ in false }
                    #expect(connection.closedByServer)
                    let (head, body) = Self.split(connection.received)
                    #expect(head.hasPrefix("http/1.0 200 ok"), "\(head)")
                    #expect(!head.contains("transfer-encoding") && head.contains("connection: close"), "\(head)")
                    #expect(body.hasPrefix("data: ") && body.hasSuffix("data: [DONE]\n\n"), "no chunk sizes: \(body)")
                    #expect(body.occurrences(of: "data: ") == 4, "\(body)")
                }
            }
        }
    }

    @Test func anAnswerOfKnownLengthKeepsTheConnectionThatAskedForIt() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(ProxyTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                for tag in ["k1", "k2"] {
                    try connection.send(Self.old(try RawConnection.chat("a", tag: tag, headers: ["Connection: keep-alive"])))
                    try connection.read { $0.contains("\"tag\": \"\(tag)\"") }
                }
                // Pipelined: a status in HTTP/1.0, then a chat in HTTP/1.1; each answer is framed
                // for its own request.
                try connection.send("GET /v1/status HTTP/1.0\r\nHost: vramd\r\nConnection: keep-alive\r\n\r\n"
                    + RawConnection.chat("a", tag: "k3"))
                try connection.read { $0.contains("\"tag\": \"k3\"") }
                #expect(!connection.closedByServer)
                let text = connection.received
                let answers = text.components(separatedBy: "HTTP/1.0 200 OK").dropFirst()
                #expect(answers.count == 3 && text.occurrences(of: "HTTP/1.1 200 OK") == 1, "\(text)")
                #expect(answers.allSatisfy { $0.lowercased().contains("connection: keep-alive") }, "\(text)")
                #expect(text.offset(of: "\"scheduler\"") ?? .max < text.offset(of: "HTTP/1.1 200 OK") ?? -1, "in order: \(text)")
            }
        }
    }

    @Test func vramdsOwnStreamIsNotChunkedEither() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(ProxyTests.config(backend)) { vramd in
                // The event stream is vramd's own, of unknown length.
                let connection = try RawConnection(vramd.url)
                try connection.send("GET /v1/events HTTP/1.0\r\nHost: vramd\r\n\r\n")
                try connection.read { $0.contains("\r\n\r\n") && $0.contains("vramd events") }
                let (head, body) = Self.split(connection.received)
                #expect(head.hasPrefix("http/1.0 200 ok") && head.contains("text/event-stream"), "\(head)")
                #expect(!head.contains("transfer-encoding") && head.contains("connection: close"), "\(head)")
                #expect(body.hasPrefix(": vramd events"), "no chunk size first: \(body)")
                connection.hangUp()
                // A status of known length to an HTTP/1.0 client that did not ask to be kept alive.
                let status = try RawConnection(vramd.url)
                try status.send("GET /v1/status HTTP/1.0\r\nHost: vramd\r\n\r\n")
                try status.read { _ in false }
                #expect(status.closedByServer)
                let answer = Self.split(status.received)
                #expect(answer.head.hasPrefix("http/1.0 200 ok") && answer.head.contains("content-length:"), "\(answer.head)")
                #expect((try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) != nil, "\(answer.body)")
            }
        }
    }
}
