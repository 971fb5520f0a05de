import Foundation

/// Finds the model a request names: the `model` field of a JSON body, or of a multipart form
/// (audio transcriptions upload a file beside it).
///
/// It lives beside the config rather than in the HTTP layer because it is pure (bytes in, a name
/// out) and untrusted input: the fuzz target in `Fuzz/` drives it without a server.
public enum RequestModel {
    public enum Failure: Error, Equatable, Sendable {
        case notJSON
        case notAnObject
        case modelNotAString
    }

    /// The `model` field, or `nil` when the body has none.
    public static func find(in body: Data, contentType: String?) throws(Failure) -> String? {
        try body.withUnsafeBytes { bytes in Result { () throws(Failure) in try find(in: bytes, contentType: contentType) } }.get()
    }

    /// The same, over bytes in place (a request body as the HTTP layer holds it), which are
    /// copied only for a multipart form or when ``JSONModelScan`` is not sure.
    public static func find(in body: UnsafeRawBufferPointer, contentType: String?) throws(Failure) -> String? {
        if let contentType, contentType.lowercased().hasPrefix("multipart/form-data") {
            return multipartField("model", in: Data(body), contentType: contentType)
        }
        if body.isEmpty { return nil }
        switch JSONModelScan.scan(body) {
        case .model(let name): return name
        case .noModel: return nil
        case .unsure: return try parseWhole(Data(body))
        }
    }

    /// What ``parseWhole(_:)`` says, as a ``JSONModelScan/Outcome``; `nil` when it refuses the
    /// body. The tests and the routing fuzz target hold the scan to it.
    public static func reference(_ body: Data) -> JSONModelScan.Outcome? {
        do {
            guard let name = try parseWhole(body) else { return .noModel }
            return .model(name)
        } catch {
            return nil
        }
    }

    /// The `model` field as `JSONSerialization` reads it, which builds the whole document: the
    /// verdict (and the error) where the scan is not sure, and its reference in the tests.
    public static func parseWhole(_ body: Data) throws(Failure) -> String? {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            throw Failure.notJSON
        }
        guard let dictionary = object as? [String: Any] else { throw Failure.notAnObject }
        guard let model = dictionary["model"] else { return nil }
        guard let name = model as? String else { throw Failure.modelNotAString }
        return name
    }

    /// The value of a plain (non-file) field of a multipart form.
    public static func multipartField(_ name: String, in data: Data, contentType: String) -> String? {
        guard let boundaryRange = contentType.range(of: "boundary=") else { return nil }
        var boundary = String(contentType[boundaryRange.upperBound...])
        if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        let delimiter = Data("--\(boundary)".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        var searchStart = data.startIndex
        while let partStart = data.range(of: delimiter, in: searchStart..<data.endIndex) {
            let afterDelimiter = partStart.upperBound
            guard let headersEnd = data.range(of: headerEnd, in: afterDelimiter..<data.endIndex) else { return nil }
            let headers = String(decoding: data[afterDelimiter..<headersEnd.lowerBound], as: UTF8.self)
            let next = data.range(of: delimiter, in: headersEnd.upperBound..<data.endIndex)
            if headers.contains("name=\"\(name)\"") && !headers.contains("filename=") {
                let valueEnd = next?.lowerBound ?? data.endIndex
                let value = String(decoding: data[headersEnd.upperBound..<valueEnd], as: UTF8.self)
                return value.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let next else { return nil }
            searchStart = next.lowerBound
        }
        return nil
    }
}
