import VRAMPolicy
import Yams

/// Walks a YAML document with its key path, collecting every error instead of stopping at the
/// first. Yams' Codable decoding ignores unknown keys and reports paths poorly; a config tool
/// must name the file, the key and the line, and catch typos.
struct ConfigReader {
    let file: String
    private(set) var errors: [ConfigError] = []

    init(file: String) { self.file = file }

    mutating func fail(_ path: String, _ node: Node?, _ message: String) {
        errors.append(ConfigError(file: file, path: path, line: node?.mark.map { $0.line },
                                  column: node?.mark.map { $0.column }, message: message))
    }

    /// The entries of a mapping in document order; unknown keys are errors with a suggestion.
    mutating func mapping(_ node: Node, at path: String, allowed: [String]) -> [(key: String, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            fail(path, node, "expected a mapping (key: value lines), found \(describe(node))")
            return nil
        }
        var entries: [(String, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                fail(path, keyNode, "keys must be strings")
                continue
            }
            if !allowed.isEmpty && !allowed.contains(key) {
                fail(join(path, key), keyNode, "unknown key '\(key)'" + Suggestion.hint(for: key, in: allowed))
                continue
            }
            entries.append((key, value))
        }
        return entries
    }

    mutating func string(_ node: Node, at path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            fail(path, node, "expected a string, found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    /// A string, or `nil` for YAML null (`~`, `null`, empty).
    mutating func optionalString(_ node: Node, at path: String) -> String?? {
        if isNull(node) { return .some(nil) }
        return string(node, at: path).map { .some($0) }
    }

    mutating func bool(_ node: Node, at path: String) -> Bool? {
        guard case .scalar = node, let value = node.bool else {
            fail(path, node, "expected true or false, found \(describe(node))")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node, at path: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar = node, let value = node.int else {
            fail(path, node, "expected a whole number, found \(describe(node))")
            return nil
        }
        guard range.contains(value) else {
            fail(path, node, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func size(_ node: Node, at path: String) -> Int64? {
        guard case .scalar(let scalar) = node, let bytes = ByteSize.parse(scalar.string) else {
            fail(path, node, "expected a size like 4GiB, 512MiB, 1.5GB or 1000000B, found \(describe(node))")
            return nil
        }
        return bytes
    }

    mutating func duration(_ node: Node, at path: String) -> Duration? {
        guard case .scalar(let scalar) = node, let duration = DurationText.parse(scalar.string) else {
            fail(path, node, "expected a duration like 250ms, 5s, 10m or 1h30m, found \(describe(node))")
            return nil
        }
        return duration
    }

    mutating func stringList(_ node: Node, at path: String) -> [String]? {
        if isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            fail(path, node, "expected a list like [a, b], found \(describe(node))")
            return nil
        }
        return sequence.enumerated().compactMap { index, item in string(item, at: "\(path)[\(index)]") }
    }

    /// One of a fixed set of words, with a suggestion when it is close to one.
    mutating func choice<T>(_ node: Node, at path: String, _ options: [(String, T)]) -> T? {
        guard let text = string(node, at: path) else { return nil }
        if let match = options.first(where: { $0.0 == text }) { return match.1 }
        let names = options.map(\.0)
        fail(path, node, "'\(text)' is not one of \(names.joined(separator: ", "))" + Suggestion.hint(for: text, in: names))
        return nil
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar = node, node.null != nil { return true }
        return false
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): scalar.string.isEmpty ? "an empty value" : "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
