import Testing
@testable import VRAMPolicy

@Suite struct InstantTests {
    @Test func advancingAndMeasuring() {
        let start = Instant.seconds(10)
        let later = start.advanced(by: .milliseconds(1500))
        #expect(later.since(start) == .milliseconds(1500))
        #expect(start < later)
    }

    @Test func durationNanosecondsSaturates() {
        #expect(Duration.seconds(Int64.max).nanoseconds == Int64.max)
        #expect(Duration.milliseconds(3).nanoseconds == 3_000_000)
    }
}
