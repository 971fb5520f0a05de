/// A point in time as the policy sees it.
///
/// The policy never reads a clock: callers pass the current instant in, so every decision is
/// reproducible from its inputs. The origin is arbitrary (the broker uses its process start).
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since an arbitrary origin.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// An instant `seconds` after the origin; convenient in tests and the `plan` command.
    public static func seconds(_ seconds: Double) -> Instant {
        Instant(nanoseconds: Int64(seconds * 1e9 + (seconds < 0 ? -0.5 : 0.5)))
    }

    /// The origin, which stands for "long ago" when nothing better is known.
    public static let zero = Instant(nanoseconds: 0)

    public func advanced(by duration: Duration) -> Instant {
        Instant(nanoseconds: nanoseconds.addingReportingOverflow(duration.nanoseconds).partialValue)
    }

    /// The time from `earlier` to `self` (negative when `earlier` is later).
    public func since(_ earlier: Instant) -> Duration {
        .nanoseconds(nanoseconds - earlier.nanoseconds)
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    public var description: String { "t+\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// The duration in whole nanoseconds (toward zero), saturating at `Int64`'s bounds.
    public var nanoseconds: Int64 {
        let nanoseconds = attoseconds / 1_000_000_000
        return Int64(exactly: nanoseconds) ?? (nanoseconds < 0 ? .min : .max)
    }
}
