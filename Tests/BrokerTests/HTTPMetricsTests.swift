import Foundation
import Testing

/// HTTP request counts and durations in `/metrics`, for whole answers, streamed ones and errors.
@Suite(.timeLimit(.minutes(1)))
struct HTTPMetricsTests {
    @Test func wholeStreamedAndFailedRequestsAreCounted() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                #expect(try await vramd.chat("a").status == 200)
                #expect(try await vramd.chat("a").status == 200)
                let streamed = try await vramd.chat("a", ["stream": true, "chunks": 3])
                #expect(streamed.status == 200 && streamed.text.contains("[DONE]"), "\(streamed)")
                #expect(try await vramd.chat("nope").status == 404)

                let text = try await HTTP.get(vramd.url + "/metrics").text
                let ok = ["http_route": "/v1/chat/completions", "http_request_method": "POST", "http_response_status_code": "200"]
                #expect(Self.value(text, "hb_requests", ok) == 3, "\(text)")
                // A streamed answer is timed to its end, so it is counted once it has ended too.
                #expect(Self.value(text, "http_server_request_duration_count", ok) == 3, "\(text)")
                let missing = ["http_route": "/v1/chat/completions", "http_request_method": "POST", "http_response_status_code": "404"]
                #expect(Self.value(text, "hb_request_errors", missing) == 1, "\(text)")
                #expect(Self.value(text, "http_server_active_requests", ["http_request_method": "POST"]) == 0, "\(text)")
            }
        }
    }

    /// One connection's direct requests answered 200, then 503, then 200 again: each answer is
    /// counted under its own status (the connection remembers the series it last used), and a
    /// facade route's under its own route.
    @Test func aConnectionsRequestsAreCountedUnderEachStatusAndRoute() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                #expect(try await vramd.chat("a").status == 200)  // loads it: the rest go the direct way
                let connection = try RawConnection(vramd.url)
                let busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
                for (tag, extra) in [("first", [:]), ("busy", ["raw": busy]), ("again", [:])] as [(String, [String: Any])] {
                    try connection.send(try RawConnection.chat("a", tag: tag, extra))
                    try connection.read { tag == "busy" ? $0.hasSuffix("busy") : $0.contains("\"tag\": \"\(tag)\"") }
                }
                let body = #"{"model": "a", "tag": "facade", "messages": []}"#
                try connection.send("POST /v1/llm HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
                try connection.read { $0.contains("\"tag\": \"facade\"") }
                #expect(connection.received.occurrences(of: "HTTP/1.1 200 OK") == 3 && connection.received.contains("HTTP/1.1 503 "), "\(connection.received)")
                #expect(try await vramd.scheduler().int("direct") == 4)

                let text = try await HTTP.get(vramd.url + "/metrics").text
                func requests(_ route: String, _ status: Int) -> Double? {
                    Self.value(text, "hb_requests", ["http_route": route, "http_request_method": "POST", "http_response_status_code": "\(status)"])
                }
                #expect(requests("/v1/chat/completions", 200) == 3, "\(text)")  // the first, through a client of its own, and two here
                #expect(requests("/v1/chat/completions", 503) == 1, "\(text)")
                #expect(requests("/v1/llm", 200) == 1, "\(text)")
            }
        }
    }

    /// The value of the sample `name{labels}` in Prometheus's text format (labels in any order).
    static func value(_ text: String, _ name: String, _ labels: [String: String]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard let close = line.lastIndex(of: "}") else { continue }
            let inside = line[line.index(line.startIndex, offsetBy: name.count + 1)..<close]
            var found: [String: String] = [:]
            for pair in inside.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                found[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            if found == labels { return Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)) }
        }
        return nil
    }
}
