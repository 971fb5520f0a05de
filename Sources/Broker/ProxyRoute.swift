import Foundation
import HTTPTypes
import NIOCore
import VRAMConfig
import VRAMPolicy

/// A route whose model is named in the request body: an OpenAI route, passed on at its own path,
/// or one of the facade's `/v1/llm|tts|stt|image`, passed on where the model's kind is served.
///
/// Both the framework's handlers (``Routes``) and the direct path (``DirectProxyHandler``) route
/// with it, so the two cannot disagree on where a request goes.
enum ProxyRoute: Sendable, Hashable {
    case openAI(String)
    case facade(ModelKind)

    /// The OpenAI routes, routed by the body's `model` field and passed on at the same path.
    static let openAIPaths = [
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/audio/speech",
        "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/images/generations", "/v1/rerank",
    ]

    static let facadeKinds: [ModelKind] = [.llm, .tts, .stt, .image]

    /// Where the facade's kinds go on a backend unless its `paths` say otherwise.
    static let facadeDefaults: [ModelKind: String] = [
        .llm: "/v1/chat/completions", .tts: "/v1/audio/speech", .stt: "/v1/audio/transcriptions", .image: "/v1/images/generations",
    ]

    /// The routes by the length of their path in bytes.
    private static let byLength: [[(path: [UInt8], route: ProxyRoute)]] = {
        let routes = openAIPaths.map { (path: Array($0.utf8), route: ProxyRoute.openAI($0)) }
            + facadeKinds.map { (path: Array("/v1/\($0.rawValue)".utf8), route: ProxyRoute.facade($0)) }
        var table = Array(repeating: [(path: [UInt8], route: ProxyRoute)](), count: (routes.map(\.path.count).max() ?? 0) + 1)
        for route in routes { table[route.path.count].append(route) }
        return table
    }()

    /// The route a path (without its query) names, if it is one of these.
    ///
    /// Compared as bytes, as a router does: finding the path in a dictionary hashed it, and
    /// a hash of a string is by Unicode scalars, about 600 instructions a request.
    init?(path: UnsafeRawBufferPointer) {
        guard path.count < Self.byLength.count else { return nil }
        for candidate in Self.byLength[path.count] {
            let same = candidate.path.withUnsafeBytes { memcmp($0.baseAddress!, path.baseAddress!, path.count) == 0 }
            if same {
                self = candidate.route
                return
            }
        }
        return nil
    }

    /// The route an origin-form target (a path, then perhaps a query) names; any other form
    /// names none.
    init?(target: UnsafeRawBufferPointer) { self.init(path: Self.split(target).path) }

    /// An origin-form request target split at its first `?`: the path, and the query with its
    /// `?` (empty when there is none).
    ///
    /// Split in the bytes: `String.firstIndex(of:)` walks the target by grapheme clusters,
    /// and cost a tenth of the direct path's instructions per request.
    static func split(_ target: UnsafeRawBufferPointer) -> (path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) {
        let mark = target.firstIndex(of: UInt8(ascii: "?")) ?? target.count
        return (UnsafeRawBufferPointer(rebasing: target[..<mark]), UnsafeRawBufferPointer(rebasing: target[mark...]))
    }

    /// The path the route is served at, which is also its name in the request metrics.
    var path: String {
        switch self {
        case .openAI(let path): path
        case .facade(let kind): "/v1/\(kind.rawValue)"
        }
    }

    /// The model the request is for: its body's `model` field, or for the facade the configured
    /// `routing` default.
    ///
    /// - Throws: ``BrokerError`` (400) for a body that is not a JSON object, or names no model.
    /// It takes the `routing` table, not the settings: passing those copied the whole struct on
    /// every request of the direct path.
    func model(in body: ByteBuffer, contentType: String?, routing: [ModelKind: ModelID]) throws(BrokerError) -> String {
        let named: String?
        do {
            named = try body.withUnsafeReadableBytes { bytes in
                Result { () throws(RequestModel.Failure) in try RequestModel.find(in: bytes, contentType: contentType) }
            }.get()
        } catch .notJSON {
            throw BrokerError.badRequest("the body is not valid JSON")
        } catch .notAnObject {
            throw BrokerError.badRequest("the body must be a JSON object")
        } catch {
            throw BrokerError.badRequest("\"model\" must be a string")
        }
        switch self {
        case .openAI:
            guard let named else { throw BrokerError.badRequest("the body names no model (a \"model\" field)") }
            return named
        case .facade(let kind):
            guard let model = named ?? routing[kind]?.rawValue else {
                throw BrokerError.badRequest("no model in the body and no routing.\(kind.rawValue) in the config")
            }
            return model
        }
    }

    /// The path on the model's backend: its entry in the model's `paths`, else the default.
    /// It takes the table, not the config: passing a lease's config copied the whole struct on
    /// every request of the direct path.
    /// Most models have no `paths`; for them the route's own path is found without making the
    /// key (a new string) and hashing it, about 800 instructions a request.
    func backendPath(in paths: [String: String]) -> String {
        switch self {
        case .openAI(let path): paths.isEmpty ? path : paths[String(path.dropFirst(4))] ?? path
        case .facade(let kind): (paths.isEmpty ? nil : paths[kind.rawValue]) ?? Self.facadeDefaults[kind] ?? "/"
        }
    }

    /// `X-Priority: 0…4` lowers (never raises) a request's priority below its model's.
    static func priority(_ headers: HTTPFields) -> Int? {
        guard let text = headers[priorityHeader] else { return nil }
        return Int(text).map { min(max($0, 0), 4) }
    }

    private static let priorityHeader = HTTPField.Name("X-Priority")!
}
