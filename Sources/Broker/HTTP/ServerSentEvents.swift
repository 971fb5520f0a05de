import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Writing `text/event-stream` responses (`/v1/events`, loading feedback).
enum ServerSentEvents {
    static let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    /// One event: `id`, `event` (the kind) and its JSON as `data`.
    static func frame(_ event: BrokerEvent) -> ByteBuffer {
        let json = (try? StatusReport.encoder.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ByteBuffer(string: "id: \(event.id)\nevent: \(event.kind.rawValue)\ndata: \(json)\n\n")
    }

    /// A comment line: clients ignore it, and it keeps the connection and proxies awake.
    static func comment(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text.split(separator: "\n", omittingEmptySubsequences: false).map { ": \($0)\n" }.joined() + "\n")
    }

    /// An error in a stream whose status line is sent already: a `data:` line with the error
    /// object, as OpenAI's streams report errors.
    static func error(_ failure: BrokerError) -> ByteBuffer {
        ByteBuffer(string: "data: " + String(decoding: failure.body, as: UTF8.self) + "\n\n")
    }

    /// Streams `events` as SSE until the client leaves or vramd shuts down, with a comment
    /// every `heartbeat` so a dead connection is noticed even when nothing happens.
    static func body(_ events: AsyncStream<BrokerEvent>, heartbeat: Duration = .seconds(15)) -> ResponseBody {
        ResponseBody { writer in
            let (frames, output) = AsyncStream.makeStream(of: ByteBuffer.self)
            output.yield(comment("vramd events"))
            // Graceful shutdown ends the stream: an open subscription must not hold the server's
            // drain until its deadline.
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in events { output.yield(frame(event)) }
                        output.finish()
                    }
                    group.addTask {
                        while (try? await Task.sleep(for: heartbeat)) != nil { output.yield(comment("keep-alive")) }
                    }
                    for await frame in frames {
                        // A failed write means the client left.
                        do { try await writer.write(frame) } catch { break }
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                output.finish()
            }
            try? await writer.finish(nil)
        }
    }
}
