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
                let missing = ["http_route": "/v1/chat/completions", "http_request_method": "POST", "error_type": "404"]
                #expect(Self.value(text, "hb_request_errors", missing) == 1, "\(text)")
                #expect(Self.value(text, "http_server_active_requests", ["http_request_method": "POST"]) == 0, "\(text)")
            }
        }
    }

    /// Each answer is counted under its own status, and a facade route's under its own route.
    @Test func requestsAreCountedUnderEachStatusAndRoute() async throws {
        try await TestBackend.with { backend in
            try await Vramd.with("""
                devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
                models:
                  a: {kind: llm, memory: 4GiB, backend: \(backend.yaml(model: "a"))}
                """) { vramd in
                let busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
                #expect(try await vramd.chat("a").status == 200)
                #expect(try await vramd.chat("a", ["raw": busy]).status == 503)
                #expect(try await vramd.chat("a").status == 200)
                let facade = try await HTTP.post(vramd.url + "/v1/llm", json: ["model": "a", "tag": "facade", "messages": []])
                #expect(facade.status == 200, "\(facade)")

                let text = try await HTTP.get(vramd.url + "/metrics").text
                func requests(_ route: String, _ status: Int) -> Double? {
                    Self.value(text, "hb_requests", ["http_route": route, "http_request_method": "POST", "http_response_status_code": "\(status)"])
                }
                #expect(requests("/v1/chat/completions", 200) == 2, "\(text)")
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
