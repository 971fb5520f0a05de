import Hummingbird
import HTTPTypes
import NIOCore

extension BrokerError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    /// The headers of the error's answer (without its length).
    var headers: HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        return headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: HTTPResponse.Status(code: statusCode), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension BrokerError {
    /// A backend that could not be reached, or hung up before its answer began.
    static func unreachable(_ lease: Lease, _ error: any Error) -> BrokerError {
        backendUnreachable(lease.model.rawValue, detail: "\(lease.model) at \(lease.endpoint): \(error)")
    }

    /// A backend whose answer is not HTTP vramd can pass on (``UpstreamProtocolError``). It was
    /// reached, so it is not "unreachable", and a request it answered is not sent again.
    static func unreadable(_ model: String, _ error: any Error) -> BrokerError {
        backendFailed(model, detail: "\(model) sent an answer vramd cannot read: \(error)")
    }

    /// A backend that broke off its answer after it began.
    static func brokeOff(_ model: String, _ error: any Error) -> BrokerError {
        backendFailed(model, detail: "\(model) broke off its answer: \(error)")
    }
}

/// Turns every error a handler throws into the structured JSON body: ours as they are, the
/// framework's (a body too large, an unknown route) into the matching code.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as BrokerError {
            throw error
        } catch let error as HTTPError {
            switch error.status {
            case .contentTooLarge: throw BrokerError(code: "payload_too_large", statusCode: 413, message: error.body ?? "the request body is too large")
            case .notFound: throw BrokerError(code: "not_found", statusCode: 404, message: "no route \(request.method) \(request.uri.path)")
            case .unauthorized: throw BrokerError.unauthorized
            default: throw BrokerError(code: "bad_request", statusCode: Int(error.status.code), message: error.body ?? "\(error.status)")
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw BrokerError(code: "internal_error", statusCode: 500, message: "\(error)")
        }
    }
}

/// `auth: {token: …}`: every route but `/healthz` and the page (`/`) needs `Authorization: Bearer <token>`.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The page itself holds no data; it asks for the token and sends it with every call.
        guard request.uri.path != "/healthz" && request.uri.path != "/" else { return try await next(request, context) }
        guard BearerToken.allows(request.headers[.authorization], token: token) else { throw BrokerError.unauthorized }
        return try await next(request, context)
    }
}

/// The `auth` token check of ``AuthMiddleware``.
enum BearerToken {
    /// Whether an `Authorization` header presents `token`.
    static func allows(_ authorization: String?, token: String) -> Bool {
        let presented = authorization.map { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : "" } ?? ""
        // Compare in constant time so the token cannot be guessed a byte at a time.
        let a = Array(presented.utf8), b = Array(token.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<min(a.count, b.count) { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
