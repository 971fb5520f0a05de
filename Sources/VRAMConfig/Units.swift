import Foundation

/// Byte sizes as people write them in configs: `4GiB`, `1.5GB`, `512MiB`, `300000B`, `0`.
public enum ByteSize {
    private static let units: [(String, Double)] = [
        ("kib", 1024), ("mib", 1024 * 1024), ("gib", 1024 * 1024 * 1024), ("tib", 1024 * 1024 * 1024 * 1024),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("b", 1),
    ]

    /// Parses a size; `nil` when the text is not one. Units are case-insensitive; a bare number is bytes.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        var number = Substring(lower)
        var scale: Double = 1
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            number = lower.dropLast(suffix.count)
            scale = factor
            break
        }
        let digits = number.trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }),
              digits.filter({ $0 == "." }).count <= 1, let value = Double(digits) else { return nil }
        let bytes = (value * scale).rounded()
        guard bytes.isFinite, bytes >= 0, bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }

    /// A short human form with binary units: `4 GiB`, `1.5 GiB`, `512 MiB`, `12 B`.
    public static func format(_ bytes: Int64) -> String {
        let sign = bytes < 0 ? "-" : ""
        let magnitude = Double(bytes.magnitude)
        for (name, factor) in [("TiB", 1024.0 * 1024 * 1024 * 1024), ("GiB", 1024.0 * 1024 * 1024), ("MiB", 1024.0 * 1024), ("KiB", 1024.0)]
        where magnitude >= factor {
            let value = magnitude / factor
            let text = value >= 100 || value == value.rounded() ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
            return "\(sign)\(text) \(name)"
        }
        return "\(bytes) B"
    }
}

/// Durations as people write them: `250ms`, `5s`, `10m`, `1h30m`, `0`, `1.5s`.
public enum DurationText {
    /// Parses a duration; `nil` when the text is not one.
    public static func parse(_ text: String) -> Duration? {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        if lower == "0" { return .zero }
        var total: Duration = .zero
        var rest = Substring(lower)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "ms": seconds = value / 1000
            case "s": seconds = value
            case "m": seconds = value * 60
            case "h": seconds = value * 3600
            default: return nil
            }
            total += .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        return total
    }

    /// A short form: `5m`, `1h30m`, `250ms`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let ns = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        if ns == 0 { return "0s" }
        if ns % 1_000_000_000 != 0 {
            return ns < 1_000_000_000 ? "\(ns / 1_000_000)ms" : "\(Double(ns) / 1e9)s"
        }
        var seconds = ns / 1_000_000_000
        var text = ""
        if seconds >= 3600 { text += "\(seconds / 3600)h"; seconds %= 3600 }
        if seconds >= 60 { text += "\(seconds / 60)m"; seconds %= 60 }
        if seconds > 0 { text += "\(seconds)s" }
        return text
    }
}
