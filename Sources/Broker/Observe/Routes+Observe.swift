import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

extension Routes {
    /// The routes people watch the broker through: the page, `/v1/status`, `/metrics`, the event
    /// stream and a process backend's output.
    func addObservability(to router: Router<BrokerRequestContext>) {
        router.get("/") { request, _ in
            // Browsers get the page; Ollama's clients probe the same path for liveness.
            guard request.headers[.accept]?.contains("text/html") == true else {
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: "Ollama is running")))
            }
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: StatusPage.html)))
        }
        router.get("/v1/status") { _, _ in
            let report = await scheduler.statusReport()
            let data = try StatusReport.encoder.encode(report)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/metrics") { _, _ in
            let report = await scheduler.statusReport()
            let text = scheduler.observer.metrics.exposition(report)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/v1/events") { request, _ in
            let last = HTTPField.Name("Last-Event-ID").flatMap { request.headers[$0] }.flatMap { Int($0) }
            let events = scheduler.observer.events.subscribe(after: last)
            return Response(status: .ok, headers: ServerSentEvents.headers, body: ServerSentEvents.body(events))
        }
        router.get("/v1/models/:model/logs") { request, context in
            let name = try context.parameters.require("model")
            let lines = request.uri.queryParameters.get("lines", as: Int.self) ?? 100
            let follow = request.uri.queryParameters.get("follow").map { $0 != "false" && $0 != "0" } ?? true
            let file = try await scheduler.logFile(of: name)
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-cache"],
                            body: ModelLogStream(path: file, lines: max(0, lines), follow: follow).body())
        }
    }
}
