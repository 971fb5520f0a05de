import Foundation

/// The start tags of an HTML document and their attributes: enough to find the page's
/// `data-` marked elements in document order.
struct HTMLTags {
    struct Tag {
        var name: String
        var attributes: [String: String]
        subscript(_ attribute: String) -> String? { attributes[attribute] }
    }

    let tags: [Tag]

    init(_ html: String) {
        tags = html.matches(of: /<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=>\/]+(?:="[^"]*")?)*)\s*\/?>/).map { match in
            var attributes: [String: String] = [:]
            for pair in match.output.2.matches(of: /([^\s=>\/]+)(?:="([^"]*)")?/) {
                attributes[String(pair.output.1)] = pair.output.2.map { String($0).replacingOccurrences(of: "&amp;", with: "&") } ?? ""
            }
            return Tag(name: String(match.output.1), attributes: attributes)
        }
    }

    /// Tags with this attribute (and value, when given).
    func with(_ attribute: String, _ value: String? = nil) -> [Tag] {
        tags.filter { tag in tag[attribute].map { value == nil || $0 == value } ?? false }
    }

    /// The tags after the first one with `attribute` = `value` and before the next tag carrying
    /// `attribute` at all: what is inside one device's block.
    func section(_ attribute: String, _ value: String) -> [Tag] {
        guard let start = tags.firstIndex(where: { $0[attribute] == value }) else { return [] }
        let rest = tags[(start + 1)...]
        return Array(rest.prefix { $0[attribute] == nil })
    }
}
