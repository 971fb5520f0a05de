import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import Broker

/// The direct path: requests for a ready model are proxied in the connection's pipeline, the
/// rest go through the framework's handlers. Both must look the same from outside.
@Suite(.timeLimit(.minutes(1)))
struct DirectPathTests {
    static func config(_ backend: TestBackend, extra: String = "") -> String {
        """
        \(extra)
        devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
        models:
          a: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "a"))}
          b: {kind: llm, memory: 3GiB, backend: \(backend.yaml(model: "b"))}
        """
    }

    @Test func aReadyModelIsServedDirectlyWithTheSameAnswer() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                let cold = try await vramd.chat("a", tag: "cold")
                #expect(cold.status == 200, "\(cold)")
                #expect(try await vramd.scheduler().int("direct") == 0, "a request that loads its model takes the framework's path")
                for tag in ["d1", "d2", "d3"] {
                    let reply = try await vramd.chat("a", tag: tag)
                    #expect(reply.status == 200, "\(reply)")
                    #expect(try reply.json()["tag"] as? String == tag)
                    // The same headers as an answer written by the framework.
                    #expect(reply.headers.first(name: "server") == "vramd")
                    #expect(reply.headers.first(name: "date")?.hasSuffix(" GMT") == true, "\(reply.headers)")
                    #expect(reply.headers.first(name: "content-type") == "application/json")
                }
                let scheduler = try await vramd.scheduler()
                #expect(scheduler.int("direct") == 3, "\(scheduler)")
                #expect(scheduler.int("requests") == 4, "direct requests count as requests")
                #expect(try await vramd.model("a").int("in_flight") == 0)
                let streamed = try await vramd.chat("a", ["stream": true, "chunks": 3])
                #expect(streamed.status == 200 && streamed.text.contains("[DONE]"), "\(streamed)")
                #expect(try await vramd.scheduler().int("direct") == 4)
            }
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                // p1 is taken directly but answers late; p2 needs a load, so the framework takes
                // it; p3 is for the ready model again. The answers must still come in order.
                let connection = try RawConnection(vramd.url)
                try connection.send(try RawConnection.chat("a", tag: "p1", ["delay": 0.3])
                    + RawConnection.chat("b", tag: "p2") + RawConnection.chat("a", tag: "p3"))
                try connection.read { $0.occurrences(of: "HTTP/1.1 ") == 3 && $0.contains("\"tag\": \"p3\"") }
                let text = connection.received
                #expect(text.occurrences(of: "HTTP/1.1 200 OK") == 3, "\(text)")
                let order = ["p1", "p2", "p3"].map { text.offset(of: "\"tag\": \"\($0)\"") ?? -1 }
                #expect(order.allSatisfy { $0 >= 0 } && order == order.sorted(), "\(text)")
                #expect(!connection.closedByServer)
            }
        }
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
                #expect(try await vramd.scheduler().int("direct") == 1)
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
                #expect(text.hasPrefix("HTTP/1.1 200 OK") && text.contains("Connection: close\r\n"), "\(text.prefix(300))")
                #expect(body?.utf8.count == size && body?.utf8.allSatisfy { $0 == UInt8(ascii: "x") } == true,
                        "\(body?.utf8.count ?? -1) of \(size) bytes")
                #expect(try await vramd.scheduler().int("direct") == 1)
            }
        }
    }

    @Test func headersOfOneConnectionAreNotPassedOn() throws {
        let request = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/chat/completions?x=1", headers: HTTPHeaders([
            ("Host", "vramd"), ("CONNECTION", "keep-alive"), ("Authorization", "Bearer t"), ("x-priority", "2"),
            ("Content-Length", "5"), ("Transfer-Encoding", "chunked"), ("TE", "trailers"), ("Content-Type", "application/json"),
            ("X-Request-Id", "r1"), ("expect", "100-continue"),
        ]))
        // The same fields as vramd's own reader takes them (it leaves requests with
        // `Transfer-Encoding` or `Expect` to llhttp).
        let read = try #require(ClientRequestReader.parse(ByteBuffer(string: "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: vramd\r\n"
            + "CONNECTION: keep-alive\r\nAuthorization: Bearer t\r\nx-priority: 2\r\nContent-Length: 5\r\nTE: trailers\r\n"
            + "Content-Type:  application/json \r\nX-Request-Id:r1\r\n\r\n")))
        // The backend's prefix and path, then the client's query.
        for head in [ClientHead.decoded(request), .read(read)] {
            let outgoing = DirectWire.request(head, prefix: "/api", path: "/chat", authority: "127.0.0.1:9000",
                                              body: ByteBuffer(string: "{\"a\":1}"), allocator: .init())
            #expect(outgoing.inlined)
            #expect(String(buffer: outgoing.bytes) == "POST /api/chat?x=1 HTTP/1.1\r\nContent-Type: application/json\r\nX-Request-Id: r1\r\n"
                + "Host: 127.0.0.1:9000\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
        }
        // A backend's framing, connection fields, Date and Server are vramd's to write.
        for name in ["Content-Length", "Keep-Alive", "connection", "TRANSFER-encoding", "Upgrade", "date", "Server", "Trailer"] {
            #expect(ByteBuffer(string: name).withUnsafeReadableBytes { DirectWire.dropsAnswerField($0) }, "\(name)")
        }
        for name in ["Content-Type", "Content-Lengthy", "X-Request-Id", "Dat"] {
            #expect(!ByteBuffer(string: name).withUnsafeReadableBytes { DirectWire.dropsAnswerField($0) }, "\(name)")
        }
        #expect(!Proxy.isHopByHop("Content-Lengthy") && !Proxy.isHopByHop("hos") && Proxy.isHopByHop("PROXY-Authorization"))
    }

    @Test func aBodyGoesInTheHeadsBufferUpToTheInlineLimit() {
        let request = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/chat/completions", headers: HTTPHeaders([("Host", "vramd")]))
        for length in [0, 1, DirectWire.inlineBody - 1, DirectWire.inlineBody, DirectWire.inlineBody + 1, 5 * DirectWire.inlineBody] {
            var body = ByteBuffer(repeating: UInt8(ascii: "x"), count: length + 3)
            body.moveReaderIndex(forwardBy: 3)  // a slice of a larger read, as the decoder hands it over
            let outgoing = DirectWire.request(.decoded(request), prefix: "", path: "/v1/chat/completions", authority: "b:1", body: body, allocator: .init())
            let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: b:1\r\nContent-Length: \(length)\r\n\r\n"
            let inline = length <= DirectWire.inlineBody
            #expect(outgoing.inlined == inline, "\(length)")
            #expect(String(buffer: outgoing.bytes) == head + (inline ? String(repeating: "x", count: length) : ""), "\(length)")
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

    @Test func aKeptAliveConnectionTheBackendDropsIsTriedOnceMore() async throws {
        try await TestBackend.with(["--drop-reused"]) { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                // The first direct request opens a connection and leaves it in the pool; the
                // backend hangs up on the second request on it, which goes again on a new one.
                #expect(try await vramd.chat("a", tag: "k1").status == 200)
                let second = try await vramd.chat("a", tag: "k2")
                #expect(second.status == 200, "\(second)")
                #expect(try second.json()["tag"] as? String == "k2")
                #expect(backend.output.all.contains("dropped k2"), "\(backend.output.all)")
                #expect(try await vramd.scheduler().int("direct") == 2)
            }
        }
    }

    @Test func theTokenIsCheckedOnTheDirectPathToo() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend, extra: "auth: {token: s3cret-s3cret-s3cret}")) { vramd in
                let bearer = ["Authorization": "Bearer s3cret-s3cret-s3cret"]
                #expect(try await vramd.chat("a", headers: bearer).status == 200)
                let refused = try await vramd.chat("a")
                #expect(refused.status == 401 && refused.errorCode == "unauthorized", "\(refused)")
                let wrong = try await vramd.chat("a", headers: ["Authorization": "Bearer s3cret-s3cret-s3creT"])
                #expect(wrong.status == 401, "\(wrong)")
                #expect(try await vramd.chat("a", headers: bearer).status == 200)
                let scheduler = try await HTTP.get(vramd.url + "/v1/status", headers: bearer).json()["scheduler"] as? [String: Any]
                #expect(scheduler?.int("direct") == 1, "\(String(describing: scheduler))")
            }
        }
    }

    @Test func anAnswerBrokenOffOnTheDirectPathIsAStructuredError() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(Self.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                let reply = try await vramd.chat("a", ["cut": true])
                #expect(reply.status == 502 && reply.errorCode == "backend_failed", "\(reply)")
                #expect(try await vramd.scheduler().int("direct") == 1, "taken directly")
                #expect(try await vramd.model("a").int("in_flight") == 0, "the slot is given back")
                #expect(try await vramd.chat("a").status == 200, "the next request is served")
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

    @Test func endpointsAreReadIntoHostPortAndPrefix() {
        let plain = UpstreamTarget(endpoint: "http://127.0.0.1:9000")
        #expect(plain.map { [$0.host, "\($0.port)", $0.authority, $0.prefix] } == ["127.0.0.1", "9000", "127.0.0.1:9000", ""])
        let prefixed = UpstreamTarget(endpoint: "http://localhost/api/")
        #expect(prefixed.map { [$0.host, "\($0.port)", $0.authority, $0.prefix] } == ["localhost", "80", "localhost", "/api/"])
        let ipv6 = UpstreamTarget(endpoint: "http://[::1]:8080/v1")
        #expect(ipv6.map { [$0.host, "\($0.port)", $0.authority, $0.prefix] } == ["::1", "8080", "[::1]:8080", "/v1"])
        #expect(UpstreamTarget(endpoint: "http://[::1]")?.port == 80)
        // Left to the framework's client: TLS, user info, and what is not an endpoint at all.
        for endpoint in ["https://127.0.0.1:9000", "http://user:pw@127.0.0.1:9000", "http://127.0.0.1:0", "http://127.0.0.1:x",
                         "http://[::1", "http://[::1]x", "http://[]:80", "http:///v1", "127.0.0.1:9000"] {
            #expect(UpstreamTarget(endpoint: endpoint) == nil, "\(endpoint)")
        }
    }
}
