import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A test client: one connection per concurrent request (AsyncHTTPClient's shared client would
/// queue all but 8 of them on its side, hiding vramd's queue from the tests).
enum HTTP {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    struct Reply: Sendable, CustomStringConvertible {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        var text: String { String(decoding: body, as: UTF8.self) }
        var description: String { "\(status) \(text)" }

        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw HarnessError("not a JSON object: \(text)")
            }
            return object
        }

        /// The `error` object of vramd's structured error body.
        var error: [String: Any] { ((try? json())?["error"] as? [String: Any]) ?? [:] }
        var errorCode: String? { error["code"] as? String }
    }

    static func request(_ method: HTTPMethod, _ url: String, body: Data? = nil, headers: [String: String] = [:],
                        timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: timeout)
        let data = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(data.readableBytesView))
    }

    static func get(_ url: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request(.GET, url, headers: headers)
    }

    static func post(_ url: String, json: [String: Any], headers: [String: String] = [:]) async throws -> Reply {
        var headers = headers
        headers["Content-Type"] = headers["Content-Type"] ?? "application/json"
        return try await request(.POST, url, body: try JSONSerialization.data(withJSONObject: json), headers: headers)
    }

    static func post(_ url: String, raw: String, headers: [String: String] = ["Content-Type": "application/json"]) async throws -> Reply {
        try await request(.POST, url, body: Data(raw.utf8), headers: headers)
    }
}
