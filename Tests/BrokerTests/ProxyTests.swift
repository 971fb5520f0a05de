import Foundation
import HTTPTypes
import NIOHTTP1
import Testing
@testable import Broker

/// The proxy as a client and a backend see it: HTTP semantics a proxy must keep (RFC 9110), its
/// connections, and what happens when either side goes away.
@Suite(.timeLimit(.minutes(1)))
struct ProxyTests {
    static func config(_ backend: TestBackend, extra: String = "") -> String {
        """
        \(extra)
        devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
        models:
          a: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "a"))}
          b: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "b"))}
        """
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                try connection.send(try RawConnection.chat("a", tag: "last", headers: ["Connection: close"]))
                try connection.read { _ in false }
                #expect(connection.closedByServer)
                #expect(connection.received.hasPrefix("HTTP/1.1 200 OK") && connection.received.contains("\"tag\": \"last\""),
                        "\(connection.received)")
            }
        }
    }

    /// An answer that ends its connection goes out whole before the close, to a client that
    /// reads slowly: one read whole by vramd (1 MiB) and one passed on as it comes (6 MiB).
    @Test(arguments: [1 << 20, 6 << 20])
    func anAnswerThatEndsItsConnectionGoesOutWholeFirst(size: Int) async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url, receiveBuffer: 4096)
                let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "x", count: size)
                try connection.send(try RawConnection.chat("a", tag: "big", ["raw": raw], headers: ["Connection: close"]))
                try connection.read(timeout: .seconds(30)) { _ in false }
                #expect(connection.closedByServer)
                let text = connection.received
                let body = text.range(of: "\r\n\r\n").map { text[$0.upperBound...] }
                #expect(text.hasPrefix("HTTP/1.1 200 OK"), "\(text.prefix(300))")
                #expect(body?.utf8.count == size && body?.utf8.allSatisfy { $0 == UInt8(ascii: "x") } == true,
                        "\(body?.utf8.count ?? -1) of \(size) bytes")
            }
        }
    }

    @Test func fieldsOfOneConnectionAreNotPassedOnEitherWay() throws {
        let request: HTTPFields = [
            HTTPField.Name("Host")!: "vramd", .connection: "keep-alive, X-Hop", HTTPField.Name("X-Hop")!: "1", .authorization: "Bearer t",
            HTTPField.Name("X-Priority")!: "2", .contentLength: "5", .transferEncoding: "chunked", .te: "trailers",
            .contentType: "application/json", HTTPField.Name("X-Request-Id")!: "r1", .expect: "100-continue",
            HTTPField.Name("Keep-Alive")!: "timeout=5", HTTPField.Name("Proxy-Connection")!: "keep-alive",
        ]
        let upstream = Proxy.upstreamHeaders(request)
        #expect(upstream.map(\.name) == ["Content-Type", "X-Request-Id"], "\(upstream)")

        let answer = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "7"), ("CONNECTION", "x-secret"),
                                  ("X-Secret", "s"), ("Keep-Alive", "timeout=5"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"),
                                  ("X-Kept", "k")])
        #expect(Proxy.answerFields(answer).map(\.name.rawName) == ["Content-Type", "Content-Length", "X-Kept"])
    }

    @Test func aBackendSeesNoneOfTheClientsConnectionFieldsAndTheClientNoneOfTheBackends() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                let reply = try await vramd.chat("a", headers: ["Connection": "X-Hop", "X-Hop": "1", "X-Kept": "k", "X-Priority": "1"])
                #expect(reply.status == 200, "\(reply)")
                let seen = try #require(try reply.json()["headers"] as? [String: String])
                #expect(seen["x-kept"] == "k" && seen["x-hop"] == nil && seen["x-priority"] == nil, "\(seen)")
                let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Secret\r\nX-Secret: s\r\n"
                    + "Keep-Alive: timeout=1\r\nX-Answer: a\r\nContent-Length: 2\r\n\r\nok"
                let answer = try await vramd.chat("a", ["raw": raw])
                #expect(answer.status == 200 && answer.text == "ok", "\(answer)")
                #expect(answer.headers["x-answer"] == ["a"] && answer.headers["x-secret"].isEmpty && answer.headers["keep-alive"].isEmpty,
                        "\(answer.headers)")
            }
        }
    }

    @Test func aClientThatLeavesMidStreamFreesItsSlotAndStopsTheBackend() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let connection = try RawConnection(vramd.url)
                try connection.send(try RawConnection.chat("a", tag: "long", ["stream": true, "chunks": 1000, "chunk_delay": 0.02]))
                try connection.read { $0.contains("long-1 ") }
                #expect(try await vramd.model("a").int("in_flight") == 1)
                connection.hangUp()
                // The backend sees its connection closed and stops writing.
                _ = await backend.output.first { $0 == "done long" }
                try await vramd.waitForModel("a", "the slot given back") { $0.int("in_flight") == 0 }
                #expect(try await vramd.chat("a").status == 200)
            }
        }
    }

    /// A kept-alive backend connection that fails once the request is on it: the request may
    /// have started, so it is not sent again (RFC 9110 §9.2.2); the client hears it may retry.
    @Test func aPostIsNeverResentWhenItsBackendConnectionFails() async throws {
        try await TestBackend.with(["--drop-reused"]) { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a", tag: "k1").status == 200)
                let second = try await vramd.chat("a", tag: "k2")
                #expect(second.status == 502 && second.errorCode == "backend_unreachable", "\(second)")
                #expect(second.error["retryable"] as? Bool == true, "\(second)")
                _ = await backend.output.first { $0 == "dropped k2" }
                let stats = try await backend.stats()
                #expect(!stats.started.contains("k2"), "sent again on a new connection: \(stats.started)")
                #expect(backend.output.all.filter { $0 == "dropped k2" }.count == 1, "\(backend.output.all)")
                #expect(try await vramd.model("a").int("in_flight") == 0)
            }
        }
    }

    @Test func theTokenIsChecked() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend, extra: "auth: {token: s3cret-s3cret-s3cret}")) { vramd in
                let bearer = ["Authorization": "Bearer s3cret-s3cret-s3cret"]
                #expect(try await vramd.chat("a", headers: bearer).status == 200)
                let refused = try await vramd.chat("a")
                #expect(refused.status == 401 && refused.errorCode == "unauthorized", "\(refused)")
                let wrong = try await vramd.chat("a", headers: ["Authorization": "Bearer s3cret-s3cret-s3creT"])
                #expect(wrong.status == 401, "\(wrong)")
                let reply = try await vramd.chat("a", headers: bearer)
                #expect(reply.status == 200)
                #expect((try reply.json()["headers"] as? [String: String])?["authorization"] == nil, "the token stays with vramd")
            }
        }
    }

    @Test func anAnswerBrokenOffIsAStructuredError() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let reply = try await vramd.chat("a", ["cut": true])
                #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(reply)")
                #expect(try await vramd.model("a").int("in_flight") == 0, "the slot is given back")
                #expect(try await vramd.chat("a").status == 200, "the next request is served")
            }
        }
    }

    /// `Expect: 100-continue` is answered at once, so the client sends its body without waiting
    /// out its own timeout; a body announced over `max_body` is refused unsent.
    @Test func aClientThatExpectsContinueIsToldToGoOn() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend, extra: "max_body: 1MiB")) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let body = #"{"model": "a", "tag": "expect"}"#
                let connection = try RawConnection(vramd.url)
                try connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
                try connection.read { $0.contains("\r\n\r\n") }
                #expect(connection.received.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(connection.received)")
                try connection.send(body)
                try connection.read { $0.contains("\"tag\": \"expect\"") }
                #expect(connection.received.contains("HTTP/1.1 200 OK"), "\(connection.received)")
                #expect(!connection.received.contains("\"expect\": \"100-continue\""), "the backend is not asked again")

                let large = try RawConnection(vramd.url)
                try large.send("POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(2 << 20)\r\nExpect: 100-continue\r\n\r\n")
                try large.read { $0.contains("\r\n\r\n") }
                #expect(large.received.hasPrefix("HTTP/1.1 413 "), "\(large.received)")
            }
        }
    }

    /// A client that sends half a head and stalls is closed after `idle_timeout`, and never held a
    /// place in the queue; so is a kept-alive connection left idle.
    @Test func aStalledClientIsClosedAfterTheIdleTimeout() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend, extra: "idle_timeout: 500ms")) { vramd in
                let stalled = try RawConnection(vramd.url)
                try stalled.send("POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Le")
                let idle = try RawConnection(vramd.url)
                try idle.send(try RawConnection.chat("a", tag: "then-idle"))
                try idle.read { $0.contains("\"tag\": \"then-idle\"") }
                try stalled.read(timeout: .seconds(10)) { _ in false }
                #expect(stalled.closedByServer && stalled.received.isEmpty, "\(stalled.received)")
                try idle.read(timeout: .seconds(10)) { _ in false }
                #expect(idle.closedByServer)
                #expect(try await vramd.scheduler().int("requests") == 1, "the stalled head never reached the queue")
            }
        }
    }

    /// One limit for a request's head, whatever its fields: 64 KiB.
    @Test func aHeadOverTheLimitIsRefused() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                let within = try await vramd.chat("a", headers: ["X-Padding": String(repeating: "p", count: 60_000)])
                #expect(within.status == 200, "\(within)")
                let connection = try RawConnection(vramd.url)
                let padding = (0..<10).map { "X-Padding-\($0): " + String(repeating: "p", count: 7_000) }
                try connection.send(try RawConnection.chat("a", tag: "too-large", headers: padding))
                try connection.read { _ in false }
                #expect(connection.closedByServer && !connection.received.contains("200 OK"), "\(connection.received.prefix(200))")
                #expect(try await vramd.scheduler().int("requests") == 1)
            }
        }
    }

    /// A model's `paths` move a route on its backend; without them (most models) each route
    /// keeps its own path, or for the facade its kind's default.
    @Test func backendPathsComeFromTheModelsTableOrTheDefaults() {
        let chat = ProxyRoute.openAI("/v1/chat/completions"), speech = ProxyRoute.openAI("/v1/audio/speech")
        #expect(chat.backendPath(in: [:]) == "/v1/chat/completions")
        #expect(chat.backendPath(in: ["chat/completions": "/api/chat"]) == "/api/chat")
        #expect(speech.backendPath(in: ["chat/completions": "/api/chat"]) == "/v1/audio/speech")
        #expect(ProxyRoute.facade(.llm).backendPath(in: [:]) == "/v1/chat/completions")
        #expect(ProxyRoute.facade(.llm).backendPath(in: ["llm": "/generate"]) == "/generate")
        #expect(ProxyRoute.facade(.tts).backendPath(in: ["llm": "/generate"]) == "/v1/audio/speech")
    }
}
