import Testing

/// Prometheus's text exposition format, parsed strictly enough that a malformed `/metrics`
/// fails the test: every line is a `# HELP`, a `# TYPE`, or a sample of a declared family.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                try #require(parts.count == 4 && ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]), "\(line)")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            let sample = try #require(Self.sample(line), "not a Prometheus sample: \(line)")
            try #require(Self.family(of: sample.name, in: types) != nil, "no # TYPE for \(sample.name)")
            samples.append(sample)
        }
    }

    /// The declared family a sample belongs to (`x_bucket`, `x_sum`, `x_count` belong to `x`).
    private static func family(of name: String, in types: [String: String]) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count", "_total"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] != nil { return base }
        }
        return nil
    }

    /// `name{label="value",…} number`.
    private static func sample(_ line: Substring) -> Sample? {
        guard let match = line.wholeMatch(of: /([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eE]+|\+Inf|NaN)/) else { return nil }
        var labels: [String: String] = [:]
        if let block = match.output.2 {
            let inner = block.dropFirst().dropLast()
            for pair in inner.matches(of: /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/) {
                labels[String(pair.output.1)] = String(pair.output.2)
            }
            // Every label parsed: nothing left over but the pairs themselves.
            guard inner.replacing(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/, with: "").isEmpty else { return nil }
        }
        let text = String(match.output.3)
        guard let value = text == "+Inf" ? Double.infinity : Double(text) else { return nil }
        return Sample(name: String(match.output.1), labels: labels, value: value)
    }

    /// The value of the one sample with this name and exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    func series(_ name: String) -> [Sample] { samples.filter { $0.name == name } }
}
