import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import Synchronization

extension Routes {
    /// `loading_feedback: true`: a streamed chat or completion request whose model must be loaded
    /// first gets its `text/event-stream` response at once, with SSE comments while it waits
    /// (`: loading gemma…`, what was evicted for it, a line every few seconds), then the model's
    /// own stream. Clients keep the connection, and people see why the first token is slow.
    ///
    /// The status line (200) goes out before the load is done, so a load that fails is reported
    /// inside the stream, as OpenAI's streams report errors: a `data:` line with an `error` object.
    ///
    /// - Returns: the response, or `nil` when no feedback applies (the setting is off, the
    ///   request is not streamed, or the model is ready) and the request takes the usual path.
    func loadingFeedback(model name: String, request: Request, body: ByteBuffer, backendPath: String) async throws -> Response? {
        guard live.current.loadingFeedback, backendPath == "/v1/chat/completions" || backendPath == "/v1/completions",
              Self.isStreamed(body), let model = await scheduler.modelNeedingLoad(name) else { return nil }
        // Only what happens from now on; subscribed before acquiring, so nothing is missed.
        let events = scheduler.observer.events.subscription(after: .max)
        let priority = Self.priority(request)
        let scheduler = self.scheduler, proxy = self.proxy, headers = request.headers, query = Self.query(request)
        let body = ResponseBody { writer in
            try await writer.write(ServerSentEvents.comment("loading \(model)…"))
            let outcome = await Self.waitWithFeedback(for: model, events: events, writer: &writer) {
                try await scheduler.acquire(name, priority: priority)
            }
            guard let outcome else { return }  // the client left while waiting
            do {
                let lease = try outcome.get()
                let path = ProxyRoute.openAI(backendPath).backendPath(in: lease.config.paths)
                let response = try await proxy.forward(lease, method: .post, path: path + query, headers: headers, body: .buffer(body))
                guard (200..<300).contains(response.status.code) else {
                    // Drained so the lease is released; its text goes into the error.
                    let text = await Self.collect(response.body)
                    throw BrokerError(code: "backend_error", statusCode: response.status.code,
                                      message: "\(model) answered \(response.status.code): \(text.prefix(500))", model: model)
                }
                try await response.body.write(writer)
            } catch {
                let failure = error as? BrokerError ?? BrokerError.backendFailed(model, detail: "\(error)")
                try await writer.write(ServerSentEvents.error(failure))
                try await writer.finish(nil)
            }
        }
        return Response(status: .ok, headers: ServerSentEvents.headers, body: body)
    }

    /// Waits for `acquire`, writing a comment for each event about `model` and one every two
    /// seconds meanwhile. Returns `nil` when the client went away (a lease obtained anyway is
    /// given back).
    private static func waitWithFeedback(for model: String, events: (events: AsyncStream<BrokerEvent>, end: @Sendable () -> Void),
                                         writer: inout any ResponseBodyWriter,
                                         acquire: @escaping @Sendable () async throws -> Lease) async -> Result<Lease, any Error>? {
        enum Update: Sendable { case note(String), acquired, eventsEnded }
        let (updates, output) = AsyncStream.makeStream(of: Update.self)
        let started = ContinuousClock.now
        return await withTaskGroup(of: Result<Lease, any Error>?.self) { group in
            group.addTask {
                defer { output.yield(.acquired) }
                do { return .success(try await acquire()) } catch { return .failure(error) }
            }
            group.addTask {
                defer { output.yield(.eventsEnded) }
                for await event in events.events where event.model == model || event.target == model {
                    output.yield(.note(event.summary))
                }
                return nil
            }
            group.addTask {
                while (try? await Task.sleep(for: .seconds(2))) != nil {
                    output.yield(.note("loading \(model)… \(Int(started.duration(to: .now).seconds))s"))
                }
                return nil
            }
            var clientLeft = false, acquired = false, eventsEnded = false
            for await update in updates {
                switch update {
                case .note(let text):
                    do { try await writer.write(ServerSentEvents.comment(text)) } catch { clientLeft = true }
                case .acquired:
                    // The load's own events (`loaded …`) were published before the lease was
                    // handed out; ending the subscription here lets them all through first.
                    acquired = true
                    events.end()
                case .eventsEnded:
                    eventsEnded = true
                }
                if clientLeft || (acquired && eventsEnded) { break }
            }
            group.cancelAll()
            var outcome: Result<Lease, any Error>?
            for await result in group { if let result { outcome = result } }
            if clientLeft, case .success(let lease) = outcome {
                await lease.release()
                return nil
            }
            return outcome
        }
    }

    static func isStreamed(_ body: ByteBuffer) -> Bool {
        let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        return object?["stream"] as? Bool == true
    }

    /// Reads a response body to the end (at most 64 KiB kept).
    private static func collect(_ body: ResponseBody) async -> String {
        let sink = CollectingWriter()
        try? await body.write(sink)
        return sink.text
    }
}

/// A body writer that keeps what is written, to drain a response whose body is not sent on.
private final class CollectingWriter: ResponseBodyWriter, Sendable {
    private let buffer = Mutex(ByteBuffer())

    func write(_ part: ByteBuffer) async throws {
        buffer.withLock { buffer in
            var part = part
            if buffer.readableBytes < 64 << 10 { buffer.writeBuffer(&part) }
        }
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}

    var text: String { buffer.withLock { String(buffer: $0) } }
}
