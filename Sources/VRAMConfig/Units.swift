import Foundation
import VRAMPolicy

/// Durations as people write them: `250ms`, `5s`, `10m`, `1h30m`, `0`, `1.5s`.
public enum DurationText {
    /// The longest duration accepted: a hundred years. Longer ones are refused rather than
    /// turned into nanoseconds that overflow (the config fuzzer found `777…730m`); "never
    /// expire" is written `forever` where a setting allows it.
    public static let longest: Duration = .seconds(100 * 365 * 24 * 3600)

    /// Parses a duration; `nil` when the text is not one, or is longer than ``longest``.
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
            // Each part is bounded before it becomes nanoseconds, so the conversion cannot trap.
            guard seconds <= Double(longest.components.seconds) else { return nil }
            total += .nanoseconds(Int64((seconds * 1e9).rounded()))
            guard total <= longest else { return nil }
        }
        return total
    }

    /// A short form: `5m`, `1h30m`, `250ms`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let ns = duration.nanoseconds
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
