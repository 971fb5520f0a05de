/// HTTP/1.1 answers read off the wire of a ``RawConnection``: as many whole ones as the bytes
/// hold, each framed by its `Content-Length` or its chunked encoding, so a test can check that
/// every pipelined request got exactly one well-formed answer.
struct WireAnswer {
    let status: Int
    let headers: [String: String]
    let body: String
}

enum HTTPWire {
    /// The whole answers at the start of `text`; `nil` when the bytes are not HTTP/1.1 answers
    /// (a part that can never become one).
    static func answers(in text: String) -> [WireAnswer]? {
        var bytes = Array(text.utf8)[...]
        var answers: [WireAnswer] = []
        while !bytes.isEmpty {
            switch answer(&bytes) {
            case .whole(let answer): answers.append(answer)
            case .incomplete: return answers
            case .malformed: return nil
            }
        }
        return answers
    }

    private enum Parsed {
        case whole(WireAnswer)
        case incomplete
        case malformed
    }

    private static func answer(_ bytes: inout ArraySlice<UInt8>) -> Parsed {
        guard let headEnd = find([13, 10, 13, 10], in: bytes) else { return bytes.count > 65536 ? .malformed : .incomplete }
        let lines = String(decoding: bytes[bytes.startIndex..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else { return .malformed }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return .malformed }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var rest = bytes[(headEnd + 4)...]
        let body: [UInt8]
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var collected: [UInt8] = []
            while true {
                guard let lineEnd = find([13, 10], in: rest) else { return .incomplete }
                guard let size = Int(String(decoding: rest[rest.startIndex..<lineEnd], as: UTF8.self), radix: 16) else { return .malformed }
                let start = lineEnd + 2
                guard rest.endIndex - start >= size + 2 else { return .incomplete }
                guard rest[start + size] == 13, rest[start + size + 1] == 10 else { return .malformed }
                collected += rest[start..<(start + size)]
                rest = rest[(start + size + 2)...]
                if size == 0 { break }
            }
            body = collected
        } else {
            guard let length = Int(headers["content-length"] ?? "0") else { return .malformed }
            guard rest.count >= length else { return .incomplete }
            body = Array(rest.prefix(length))
            rest = rest.dropFirst(length)
        }
        bytes = rest
        return .whole(WireAnswer(status: status, headers: headers, body: String(decoding: body, as: UTF8.self)))
    }

    private static func find(_ needle: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var index = bytes.startIndex
        while index <= bytes.endIndex - needle.count {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
