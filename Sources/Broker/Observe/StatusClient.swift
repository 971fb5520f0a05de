import AsyncHTTPClient
import Foundation
import NIOCore

/// Reads a running vramd's `/v1/status` and `/v1/events` (`vramd status`).
public struct StatusClient: Sendable {
    public var baseURL: String
    public var token: String?
    var client: HTTPClient = .shared

    public init(baseURL: String, token: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    /// Why vramd could not be read, in words for the terminal.
    public struct Failure: Error, CustomStringConvertible {
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

    private func send(_ path: String, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            return try await client.execute(request, timeout: timeout)
        } catch {
            throw Failure(description: "cannot reach vramd at \(baseURL): \(error)")
        }
    }
}
