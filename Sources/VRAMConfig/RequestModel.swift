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
    ///
    /// The caller bounds the body's size (`max_body`) before it gets here.
    public static func find(in body: Data, contentType: String?) throws(Failure) -> String? {
        if let contentType, contentType.lowercased().hasPrefix("multipart/form-data") {
            return multipartField("model", in: body, contentType: contentType)
        }
        if body.isEmpty { return nil }
        do {
            return try JSONDecoder().decode(ModelField.self, from: body).model
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw .notAnObject
        } catch DecodingError.typeMismatch {
            throw .modelNotAString
        } catch {
            throw .notJSON
        }
    }

    /// The one field routing needs; any other field is left alone, whatever its type.
    private struct ModelField: Decodable {
        let model: String?
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
