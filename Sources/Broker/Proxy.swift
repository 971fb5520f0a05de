import AsyncHTTPClient
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Passes a request to the backend a lease points at and streams the answer back as it
/// arrives (SSE and chunked bodies included). The lease is released when the body has been
/// sent, or when the client goes away, which also cancels the upstream request. An event
/// stream the backend breaks off ends with a `backend_failed` error event.
struct Proxy: Sendable {
    let clients: ProxyClients

    /// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus ours.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "authorization", "x-priority",
    ]

    /// Answers up to this size with a `Content-Length` are read whole before they are passed on.
    static let bufferedBodyLimit = 1 << 20

    /// A request's headers as they go to its backend.
    static func upstreamHeaders(_ fields: HTTPFields) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for field in fields where !hopByHop.contains(field.name.canonicalName) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        return headers
    }

    /// A backend's answer headers as they go to the client: its length stays, the rest of what
    /// belongs to its connection goes.
    static func answerFields(_ headers: HTTPHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in answerHeaders(headers) {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return fields
    }

    /// A backend's answer headers as the framework's path passes them on.
    static func answerHeaders(_ headers: HTTPHeaders) -> HTTPHeaders {
        var kept = HTTPHeaders()
        kept.reserveCapacity(headers.count + 2)
        for (name, value) in headers where !isHopByHop(name) || equalsIgnoringCase(name, "content-length") {
            kept.add(name: name, value: value)
        }
        return kept
    }

    /// Whether a header name is one of ``hopByHop``, in any case, without lowercasing a copy
    /// (this runs for every header of every proxied request).
    static func isHopByHop(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { HTTPHeadBytes.isOne(of: hopByHopBytes, UnsafeRawBufferPointer($0)) }
    }

    /// ``hopByHop`` as bytes, to compare through pointers.
    static let hopByHopBytes = hopByHop.map { Array($0.utf8) }

    /// ASCII case-insensitive equality with `lowercase`, which must be lowercase already.
    static func equalsIgnoringCase(_ name: String, _ lowercase: String) -> Bool {
        // Most names differ in length, and then no byte is read. The bytes are compared through
        // pointers: walking two `UTF8View`s together cost several times as much.
        guard name.utf8.count == lowercase.utf8.count else { return false }
        var name = name, lowercase = lowercase
        return name.withUTF8 { name in lowercase.withUTF8 { equalsIgnoringCase(name, $0) } }
    }

    /// The same over bytes: a field name as it came off the wire.
    static func equalsIgnoringCase(_ name: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        name.count == lowercase.count && zip(name, lowercase).allSatisfy { byte, expected in asciiLowercased(byte) == expected }
    }

    static func isEventStream(_ headers: HTTPHeaders) -> Bool {
        headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true
    }

    /// The length of an answer read whole before it is passed on (one that is not an event
    /// stream and has a `Content-Length` up to ``bufferedBodyLimit``): it then goes out with its
    /// head in one write, and a backend that breaks off in the middle of it still gets the
    /// client a structured 502. `nil` for an answer passed on as it comes.
    static func wholeLength(_ headers: HTTPHeaders) -> Int? {
        guard !isEventStream(headers), let length = headers.first(name: "content-length").flatMap(Int.init),
              length <= bufferedBodyLimit else { return nil }
        return length
    }

    enum Body: Sendable {
        case buffer(ByteBuffer)
        case stream(RequestBody)
    }

    func forward(_ lease: Lease, method: HTTPRequest.Method, path: String, headers: HTTPFields, body: Body) async throws -> Response {
        var upstream = HTTPClientRequest(url: lease.endpoint + path)
        upstream.method = HTTPMethod(rawValue: method.rawValue)
        upstream.headers = Self.upstreamHeaders(headers)
        switch body {
        case .buffer(let buffer):
            if buffer.readableBytes > 0 || method == .post || method == .put { upstream.body = .bytes(buffer) }
        case .stream(let stream):
            upstream.body = .stream(stream, length: .unknown)
        }
        let response: HTTPClientResponse
        do {
            // Generations can run for a long time; the client's own disconnect is what ends them.
            response = try await clients.current.execute(upstream, timeout: .hours(24))
        } catch {
            await lease.release()
            if error is CancellationError { throw error }
            throw BrokerError.unreachable(lease, error)
        }
        let fields = Self.answerFields(response.headers)
        let upstreamBody = response.body
        let isEventStream = Self.isEventStream(response.headers)
        let model = lease.model.rawValue
        let status = HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
        if let length = Self.wholeLength(response.headers) {
            let body: ByteBuffer
            do {
                body = try await upstreamBody.collect(upTo: length)
            } catch {
                await lease.release()
                if error is CancellationError { throw error }
                throw BrokerError.brokeOff(model, error)
            }
            await lease.release()
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
        }
        let responseBody = ResponseBody { writer in
            do {
                var chunks = upstreamBody.makeAsyncIterator()
                while true {
                    let chunk: ByteBuffer?
                    do {
                        chunk = try await chunks.next()
                    } catch {
                        // The backend broke off mid-answer (it crashed, or was killed). The
                        // status and headers are sent already; an event stream can still say
                        // why, in a last event the client's SSE parser sees. Any other body can
                        // only be cut short, which the client sees as a broken transfer.
                        guard isEventStream else { throw error }
                        try await writer.write(ServerSentEvents.error(.brokeOff(model, error)))
                        break
                    }
                    guard let chunk else { break }
                    try await writer.write(chunk)
                }
                try await writer.finish(nil)
            } catch {
                await lease.release()
                throw error
            }
            await lease.release()
        }
        return Response(status: status, headers: fields, body: responseBody)
    }
}
