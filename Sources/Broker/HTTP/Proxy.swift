import Foundation
import AsyncHTTPClient
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Passes a request to the backend a lease points at and streams the answer back as it
/// arrives (SSE and chunked bodies included). The lease is released when the body has been
/// sent, or when the client goes away, which also cancels the upstream request. An event
/// stream the backend breaks off ends with a `backend_failed` error event.
///
/// A request is sent once: a backend connection that fails is a 502 the client may retry, never a
/// second attempt by vramd (RFC 9110 §9.2.2; a resent generation costs GPU time).
struct Proxy: Sendable {
    let client = HTTPClient.proxy

    /// Fields that belong to one connection (RFC 9110 §7.6.1), never forwarded either way, with
    /// those a `Connection` field names.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// Fields of a request that are vramd's own or that the client library writes anew.
    static let notForwarded: Set<String> = ["host", "content-length", "authorization", "x-priority", "expect"]

    /// Answers up to this size with a `Content-Length` are read whole before they are passed on.
    static let bufferedBodyLimit = 1 << 20

    /// A request's fields as they go to its backend.
    static func upstreamHeaders(_ fields: HTTPFields) -> HTTPHeaders {
        let named = connectionOptions(fields[values: .connection])
        var headers = HTTPHeaders()
        for field in fields {
            let name = field.name.canonicalName
            if hopByHop.contains(name) || notForwarded.contains(name) || named.contains(name) { continue }
            headers.add(name: field.name.rawName, value: field.value)
        }
        return headers
    }

    /// A backend's answer fields as they go to the client; its `Content-Length` stays.
    static func answerFields(_ headers: HTTPHeaders) -> HTTPFields {
        let named = connectionOptions(headers[canonicalForm: "connection"].map(String.init))
        var fields = HTTPFields()
        for (name, value) in headers {
            let lowercased = name.lowercased()
            if hopByHop.contains(lowercased) || named.contains(lowercased) { continue }
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return fields
    }

    /// The field names a `Connection` field lists, lowercased.
    static func connectionOptions(_ values: [String]) -> Set<String> {
        Set(values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
    }

    static func isEventStream(_ headers: HTTPHeaders) -> Bool {
        headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true
    }

    /// The length of an answer read whole before it is passed on (one that is not an event
    /// stream and has a `Content-Length` up to ``bufferedBodyLimit``): a backend that breaks off
    /// in the middle of it still gets the client a structured 502. `nil` for an answer passed on
    /// as it comes.
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
            response = try await client.execute(upstream, timeout: .hours(24))
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
