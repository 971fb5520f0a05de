/// Byte sizes as people write them in configs: `4GiB`, `1.5GB`, `512MiB`, `300000B`, `0`.
public enum ByteSize {
    private static let units: [(String, Double)] = [
        ("kib", 1024), ("mib", 1024 * 1024), ("gib", 1024 * 1024 * 1024), ("tib", 1024 * 1024 * 1024 * 1024),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("b", 1),
    ]

    /// Parses a size; `nil` when the text is not one. Units are case-insensitive; a bare number is bytes.
    public static func parse(_ text: String) -> Int64? {
        let lower = text.trimmingSpaces().lowercased()
        var number = Substring(lower)
        var scale: Double = 1
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            number = lower.dropLast(suffix.count)
            scale = factor
            break
        }
        let digits = String(number).trimmingSpaces()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }),
              digits.filter({ $0 == "." }).count <= 1, let value = Double(digits) else { return nil }
        let scaled = value * scale + 0.5
        guard scaled.isFinite, scaled >= 0, scaled < 9.2e18 else { return nil }
        return Int64(scaled)
    }

    /// A short human form with binary units: `4 GiB`, `1.5 GiB`, `512 MiB`, `12 B`.
    public static func format(_ bytes: Int64) -> String {
        let sign = bytes < 0 ? "-" : ""
        let magnitude = Double(bytes.magnitude)
        for (name, factor) in [("TiB", 1024.0 * 1024 * 1024 * 1024), ("GiB", 1024.0 * 1024 * 1024), ("MiB", 1024.0 * 1024), ("KiB", 1024.0)]
        where magnitude >= factor {
            let value = magnitude / factor
            let tenths = Int(value * 10 + 0.5)
            let text = value >= 100 || tenths % 10 == 0 ? String(Int(value + 0.5)) : "\(tenths / 10).\(tenths % 10)"
            return "\(sign)\(text) \(name)"
        }
        return "\(bytes) B"
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
