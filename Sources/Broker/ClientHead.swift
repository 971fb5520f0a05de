import NIOCore
import NIOHTTP1

/// A request head on the direct path: as ``ClientRequestReader`` read it, or, on a connection
/// it left to llhttp, as NIO's decoder did.
enum ClientHead {
    case read(ClientRequestHead)
    case decoded(HTTPRequestHead)

    /// `body` with the bytes of the request's target: the direct path routes by them and
    /// passes their query on, so a head it read makes no string of them.
    func withTarget<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        switch self {
        case .read(let head):
            return head.bytes.withUnsafeReadableBytes { body(UnsafeRawBufferPointer(rebasing: $0[head.target])) }
        case .decoded(let head):
            var uri = head.uri
            return uri.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        }
    }

    var isPost: Bool {
        switch self {
        case .read(let head): head.method == .POST
        case .decoded(let head): head.method == .POST
        }
    }

    var old: Bool {
        switch self {
        case .read(let head): head.old
        case .decoded(let head): head.version == .http1_0
        }
    }

    var isKeepAlive: Bool {
        switch self {
        case .read(let head): head.keepAlive
        case .decoded(let head): head.isKeepAlive
        }
    }

    /// Only a multipart type is needed to find the model (``RequestModel/find(in:contentType:)``),
    /// so only that one is made into a string.
    var multipartType: String? {
        switch self {
        case .read(let head):
            guard let range = head.contentType,
                  head.bytes.withUnsafeReadableBytes({ $0[range].hasPrefixIgnoringCase("multipart/") })
            else { return nil }
            return head.value(range)
        case .decoded(let head):
            return head.headers.first(name: "content-type")
        }
    }

    var authorization: String? {
        switch self {
        case .read(let head): head.value(head.authorization)
        case .decoded(let head): head.headers.first(name: "authorization")
        }
    }

    /// The request in NIO's types, for the framework.
    var decoded: HTTPRequestHead {
        switch self {
        case .read(let head): head.decoded
        case .decoded(let head): head
        }
    }

    var fieldCount: Int {
        switch self {
        case .read(let head): head.fields.count
        case .decoded(let head): head.headers.count
        }
    }

    var methodName: String {
        switch self {
        case .read(let head): head.method.rawValue
        case .decoded(let head): head.method.rawValue
        }
    }

    /// Writes the fields that go on to a backend: all but those of the client's connection
    /// (``Proxy/hopByHop``) and `Expect` (the whole body is there already, and a backend must not
    /// hold it back for a `100 Continue`).
    func writeForwardedFields(into out: inout ByteBuffer) {
        switch self {
        case .read(let head):
            head.bytes.withUnsafeReadableBytes { raw in
                for field in head.fields {
                    let name = UnsafeRawBufferPointer(rebasing: raw[field.name])
                    guard !HTTPHeadBytes.isOne(of: Proxy.hopByHopBytes, name) else { continue }
                    out.writeField(name, UnsafeRawBufferPointer(rebasing: raw[field.value]))
                }
            }
        case .decoded(let head):
            for (name, value) in head.headers where !Proxy.isHopByHop(name) && !Proxy.equalsIgnoringCase(name, "expect") {
                out.writeField(name, value)
            }
        }
    }
}
