import Foundation
import VRAMPolicy

/// An error vramd makes itself, with its HTTP status and the structured body
/// `{"error": {"code", "message", "model", "retryable"}}` (which also reads as an OpenAI error).
public struct BrokerError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var statusCode: Int
    public var message: String
    public var model: String?
    public var retryable: Bool
    /// Seconds a client should wait before trying again (`Retry-After`).
    public var retryAfter: Int?

    public init(code: String, statusCode: Int, message: String, model: String? = nil, retryable: Bool = false, retryAfter: Int? = nil) {
        self.code = code
        self.statusCode = statusCode
        self.message = message
        self.model = model
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code) (\(statusCode)): \(message)" }

    public static func modelNotFound(_ name: String, suggestion: String? = nil) -> BrokerError {
        BrokerError(code: "model_not_found", statusCode: 404,
                    message: "no model named '\(name)' is configured" + (suggestion.map { " (did you mean '\($0)'?)" } ?? ""),
                    model: name)
    }

    public static func badRequest(_ message: String, model: String? = nil) -> BrokerError {
        BrokerError(code: "bad_request", statusCode: 400, message: message, model: model)
    }

    public static func payloadTooLarge(limit: Int64) -> BrokerError {
        BrokerError(code: "payload_too_large", statusCode: 413, message: "the request body is larger than max_body (\(ByteSize.format(limit)))")
    }

    public static func queueFull(_ model: String, limit: Int) -> BrokerError {
        BrokerError(code: "queue_full", statusCode: 429, message: "\(limit) requests are already waiting (queue.max)", model: model,
                    retryable: true, retryAfter: 1)
    }

    public static func queueTimeout(_ model: String, after: Duration) -> BrokerError {
        BrokerError(code: "queue_timeout", statusCode: 503, message: "waited \(after) for '\(model)' (queue.timeout)", model: model,
                    retryable: true, retryAfter: 1)
    }

    public static func loadTimeout(_ model: String, detail: String) -> BrokerError {
        BrokerError(code: "load_timeout", statusCode: 504, message: detail, model: model, retryable: true)
    }

    public static func insufficientMemory(_ rejection: Rejection) -> BrokerError {
        BrokerError(code: "insufficient_memory", statusCode: rejection.retryable ? 503 : 507, message: rejection.description,
                    model: rejection.model.rawValue, retryable: rejection.retryable, retryAfter: rejection.retryable ? 5 : nil)
    }

    public static func backendUnreachable(_ model: String, detail: String) -> BrokerError {
        BrokerError(code: "backend_unreachable", statusCode: 502, message: detail, model: model, retryable: true)
    }

    public static func backendFailed(_ model: String, detail: String) -> BrokerError {
        BrokerError(code: "backend_failed", statusCode: 502, message: detail, model: model, retryable: true)
    }

    public static let unauthorized = BrokerError(code: "unauthorized", statusCode: 401,
                                                 message: "this route needs Authorization: Bearer <token>")

    public static func shuttingDown() -> BrokerError {
        BrokerError(code: "shutting_down", statusCode: 503, message: "vramd is shutting down", retryable: true)
    }

    /// The JSON body.
    public var body: Data {
        var error: [String: Any] = ["code": code, "type": code, "message": message, "retryable": retryable]
        error["model"] = model ?? NSNull()
        return (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
    }
}
