import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// `loading_feedback: true` against a running vramd: a streamed chat whose model must load first
/// gets SSE comments while it waits, then the model's own stream; meanwhile a full queue answers
/// 429, and the status and metrics count it. The backend's load is held until the test opens its
/// gate, so the wait is real and nothing is timed.
@Suite(.serialized) struct LoadingFeedbackEndToEndTests {
    static func config(backend: String, stateDirectory: String) -> String {
        """
        listen: 127.0.0.1:0
        state_dir: \(stateDirectory)
        loading_feedback: true
        queue: {max: 1}
        devices:
          - {id: gpu0, kind: simulated, capacity: 10GiB}
        models:
          alpha:
            kind: llm
            memory: 6GiB
            backend: {type: http, url: "\(backend)", load: {method: POST, path: /load}, unload: {method: POST, path: /unload}}
        """
    }

    @Test(.timeLimit(.minutes(3)))
    func aStreamedChatWaitingForItsLoadGetsCommentsFirst() async throws {
        let directory = try LiveBroker.temporaryDirectory()
        let (backend, backendURL) = try await LiveBroker.backend(in: directory, gated: true)
        defer { backend.stop() }
        let broker = try await LiveBroker.start(config: Self.config(backend: backendURL, stateDirectory: directory + "/state"),
                                                in: directory)
        defer { broker.vramd.stop() }
        let events = try await broker.stream("/v1/events")

        let chat = try await broker.stream("/v1/chat/completions", method: .POST,
                                           body: #"{"model": "alpha", "stream": true, "messages": []}"#)
        #expect(chat.status == 200)
        // The load has started (and the request is counted in the queue): the backend holds it.
        _ = try await events.events(until: "load_started", model: "alpha")
        try await chat.read { $0.contains(": loading alpha") }

        // queue.max is 1 and that one is waiting: the next request is refused at once.
        let refused = try await broker.post("/v1/chat/completions", json: #"{"model": "alpha", "messages": []}"#)
        #expect(refused.status == 429, "\(refused.body)")
        #expect(try await events.nextEvent().kind == "rejected")

        // Let the load finish; the model's own stream follows the comments.
        var gate = HTTPClientRequest(url: backendURL + "/gate")
        gate.method = .POST
        #expect(try await HTTPClient.shared.execute(gate, timeout: .seconds(30)).status.code == 200)
        let text = try await chat.read { $0.contains("data: [DONE]") }
        let firstData = try #require(text.range(of: "data: "))
        let before = text[..<firstData.lowerBound].split(separator: "\n")
        #expect(!before.isEmpty && before.allSatisfy { $0.hasPrefix(": ") }, "\(before)")
        #expect(before.contains { $0.contains("loaded alpha") }, "\(before)")
        let data = text[firstData.lowerBound...].split(separator: "\n").filter { $0.hasPrefix("data: ") }
        #expect(data.count == 4 && data.last == "data: [DONE]", "\(data)")

        // A ready model is streamed as it is, without comments.
        let again = try await broker.stream("/v1/chat/completions", method: .POST,
                                            body: #"{"model": "alpha", "stream": true, "messages": []}"#)
        #expect(try await again.read { $0.contains("data: [DONE]") }.hasPrefix("data: "))

        let report = try await broker.status()
        #expect(report.scheduler.rejectedQueueFull == 1 && report.scheduler.requests == 2)
        #expect(report.scheduler.queueWait.count == 2 && report.scheduler.loadTime.count == 1)
        let metrics = try PrometheusText(try await broker.get("/metrics").body)
        #expect(metrics.value("vramd_rejected_requests_total", ["reason": "queue_full"]) == 1)
        #expect(metrics.value("vramd_requests_total") == 2)
    }
}
