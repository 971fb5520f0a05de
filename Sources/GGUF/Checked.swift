/// Size arithmetic that reports overflow as a ``GGUFError`` instead of trapping: the factors
/// come from files (and options), and a file can claim anything.
enum Checked {
    static func product(_ values: Int64...) throws(GGUFError) -> Int64 {
        var result: Int64 = 1
        for value in values {
            let (next, overflow) = result.multipliedReportingOverflow(by: value)
            guard !overflow else { throw overflowError }
            result = next
        }
        return result
    }

    static func sum<S: Sequence<Int64>>(_ values: S) throws(GGUFError) -> Int64 {
        var result: Int64 = 0
        for value in values {
            let (next, overflow) = result.addingReportingOverflow(value)
            guard !overflow else { throw overflowError }
            result = next
        }
        return result
    }

    private static let overflowError = GGUFError(.implausibleCount, at: nil, "model sizes overflow 64-bit byte counts")
}
