import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import VRAMPolicy

/// The HTTP requests backends send: to load and unload, to check health, to poll readiness.
struct HTTPCaller: Sendable {
    struct Response: Sendable {
        var status: Int
        var body: String
        var isSuccess: Bool { (200..<300).contains(status) }
    }

    let client: HTTPClient

    /// Sends `call` to `base`, with `${MODEL_ID}` replaced in its path and body.
    func send(_ call: HTTPCall, to base: String, model: ModelID, timeout: Duration) async throws -> Response {
        let path = call.path.replacingPlaceholder("MODEL_ID", with: model.rawValue)
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: call.method.uppercased())
        if let body = call.body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.replacingPlaceholder("MODEL_ID", with: model.rawValue)))
        }
        return try await execute(request, timeout: timeout)
    }

    /// Sends a JSON body with `method` to `url`.
    func send(_ method: HTTPMethod, url: String, json: String? = nil, timeout: Duration) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        return try await execute(request, timeout: timeout)
    }

    private func execute(_ request: HTTPClientRequest, timeout: Duration) async throws -> Response {
        let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        // Control answers are small; a megabyte bounds a misbehaving server.
        let body = try await response.body.collect(upTo: 1 << 20)
        return Response(status: Int(response.status.code), body: String(buffer: body))
    }

    /// Sends a health check: healthy on 2xx, unhealthy with the status or error otherwise.
    func health(_ call: HTTPCall, at base: String, model: ModelID) async -> BackendHealth {
        do {
            let response = try await send(call, to: base, model: model, timeout: .seconds(2))
            return response.isSuccess ? .healthy : .unhealthy("\(call.method) \(call.path) answered \(response.status)")
        } catch {
            return .unhealthy("\(error)")
        }
    }

    /// Polls `url` with GET until it answers 2xx.
    ///
    /// The first poll goes out at once and the gap grows from 1 ms to 8 ms, so a server that
    /// becomes ready is noticed within about 10 ms (llama-swap polls once a second); a refused
    /// connection on localhost costs well under a millisecond, so the polling is cheap.
    /// Ends only by success or by the calling task's cancellation (`CancellationError`).
    func waitUntilReady(url: String, clock: any Clock<Duration>) async throws {
        var gap = Duration.milliseconds(1)
        while true {
            try Task.checkCancellation()
            if let response = try? await send(.GET, url: url, timeout: .seconds(2)), response.isSuccess {
                return
            }
            try await clock.sleep(for: gap)
            gap = min(gap * 2, .milliseconds(8))
        }
    }
}

extension String {
    /// Replaces every `${name}` with `value`.
    func replacingPlaceholder(_ name: String, with value: String) -> String {
        let token = "${\(name)}"
        guard contains(token) else { return self }
        return split(separator: token, omittingEmptySubsequences: false).joined(separator: value)
    }
}
