import Testing
@testable import VRAMPolicy

struct InstantTests {
    /// The ledger's clock counts whole nanoseconds: a duration is cut toward zero, and one past
    /// what an `Int64` holds stops at its bound instead of wrapping.
    @Test func aDurationIsCountedInWholeNanoseconds() {
        let cases: [(Duration, Int64)] = [
            (.zero, 0),
            (.nanoseconds(1), 1),
            (.seconds(3) + .nanoseconds(7), 3_000_000_007),
            (.seconds(-2) - .nanoseconds(5), -2_000_000_005),
            (Duration(attoseconds: 1_999_999_999), 1),
            (Duration(attoseconds: -1_999_999_999), -1),
            (Duration(attoseconds: 999_999_999), 0),
            (.seconds(Int64.max / 1_000_000_000), Int64.max / 1_000_000_000 * 1_000_000_000),
            (.seconds(Int64.max), .max),
            (.seconds(Int64.min), .min),
            (.nanoseconds(Int64.max) + .nanoseconds(1), .max),
        ]
        for (duration, nanoseconds) in cases {
            #expect(duration.nanoseconds == nanoseconds, "\(duration)")
        }
        let start = ContinuousClock.now
        let later = start.advanced(by: .milliseconds(1500))
        #expect(start.duration(to: later).nanoseconds == 1_500_000_000)
        #expect(Instant(nanoseconds: 10).advanced(by: .nanoseconds(5)).since(Instant(nanoseconds: 3)).nanoseconds == 12)
    }
}
