import Foundation
import HTTPTypes
import NIOCore
import VRAMConfig
import VRAMPolicy

/// A route whose model is named in the request body: an OpenAI route, passed on at its own path,
/// or one of the facade's `/v1/llm|tts|stt|image`, passed on where the model's kind is served.
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
    func model(in body: ByteBuffer, contentType: String?, routing: [ModelKind: ModelID]) throws(BrokerError) -> String {
        let named: String?
        do {
            named = try RequestModel.find(in: Data(body.readableBytesView), contentType: contentType)
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
    func backendPath(in paths: [String: String]) -> String {
        switch self {
        case .openAI(let path): paths[String(path.dropFirst(4))] ?? path
        case .facade(let kind): paths[kind.rawValue] ?? Self.facadeDefaults[kind] ?? "/"
        }
    }

    /// `X-Priority: 0…4` lowers (never raises) a request's priority below its model's.
    static func priority(_ headers: HTTPFields) -> Int? {
        guard let text = headers[priorityHeader] else { return nil }
        return Int(text).map { min(max($0, 0), 4) }
    }

    private static let priorityHeader = HTTPField.Name("X-Priority")!
}
