import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Reads a running vramd's `/v1/status` and `/v1/events` (`vramd status`).
public struct StatusClient: Sendable {
    public var baseURL: String
    public var token: String?
    // A refused connection means no vramd is there: said at once, not retried until a deadline.
    var client: HTTPClient = .backends

    public init(baseURL: String, token: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    /// Why vramd could not be read, in words for the terminal.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    /// No vramd answers at the address.
    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String
    }

    public func status() async throws -> StatusReport {
        let response = try await send("/v1/status", timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else {
            throw Failure(description: "\(baseURL)/v1/status answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        do {
            return try JSONDecoder().decode(StatusReport.self, from: Data(buffer: body))
        } catch {
            throw Failure(description: "\(baseURL)/v1/status is not a vramd status report: \(error)")
        }
    }

    /// Every event from now on (the kept ones first), until the connection ends.
    public func events() -> AsyncThrowingStream<BrokerEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await send("/v1/events", timeout: .hours(24 * 365))
                    guard response.status == .ok else {
                        throw Failure(description: "\(baseURL)/v1/events answered \(response.status.code)")
                    }
                    var pending = ""
                    for try await chunk in response.body {
                        pending += String(buffer: chunk)
                        while let end = pending.range(of: "\n\n") {
                            let frame = pending[..<end.lowerBound]
                            pending = String(pending[end.upperBound...])
                            for line in frame.split(separator: "\n") where line.hasPrefix("data: ") {
                                if let event = try? JSONDecoder().decode(BrokerEvent.self, from: Data(line.dropFirst(6).utf8)) {
                                    continuation.yield(event)
                                }
                            }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// An answer of vramd's: its status, and its body once read whole.
    public struct Answer: Sendable {
        public var status: Int
        public var body: String

        /// The message of vramd's structured error body, or the body itself.
        public var message: String {
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return (object?["error"] as? [String: Any])?["message"] as? String ?? body
        }
    }

    /// `method path`, its answer read whole.
    public func call(_ method: HTTPMethod, _ path: String, timeout: TimeAmount = .minutes(10)) async throws -> Answer {
        let response = try await send(path, method: method, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }

    /// `GET path`, its body as it arrives; a status other than 200 throws with vramd's message.
    public func stream(_ path: String) async throws -> HTTPClientResponse.Body {
        let response = try await send(path, timeout: .hours(24 * 365))
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Failure(description: Answer(status: Int(response.status.code), body: String(buffer: body)).message)
        }
        return response.body
    }

    private func send(_ path: String, method: HTTPMethod = .GET, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            return try await client.execute(request, timeout: timeout)
        } catch {
            throw Unreachable(description: "cannot reach vramd at \(baseURL) (is `vramd serve` running?): \(error)")
        }
    }
}
