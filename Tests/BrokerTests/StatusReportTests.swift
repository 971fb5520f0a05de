import Foundation
import Testing
@testable import Broker

@Suite struct StatusReportTests {
    @Test func roundTripsThroughJSONWithSnakeCaseKeys() throws {
        let report = StatusFixtures.report()
        let data = try StatusReport.encoder.encode(report)
        let text = String(decoding: data, as: UTF8.self)
        for key in ["free_for_planning", "planned_use", "footprint_source", "in_flight", "keep_alive_expires_in", "load_count",
                    "rejected_queue_full", "queue_wait", "generated_at"] {
            #expect(text.contains("\"\(key)\""), "\(key)")
        }
        #expect(try JSONDecoder().decode(StatusReport.self, from: data) == report)
    }

    @Test func columnsKeepEverySegmentVisibleAndTheBarInItsWidth() {
        #expect(StatusReport.columns([4, 2, 0, 1], total: 16, width: 16) == [4, 2, 0, 1])
        #expect(StatusReport.columns([1, 1_000_000], total: 1_000_001, width: 10) == [1, 9])
        #expect(StatusReport.columns([5, 5, 5], total: 10, width: 10).reduce(0, +) <= 10)
    }

    @Test func theTerminalPictureHasABarPerDeviceAndARowPerModel() throws {
        let text = StatusFixtures.report().rendered(width: 32, color: false)
        #expect(!text.contains("\u{1B}["), "no colour unless asked")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let bar = try #require(lines.first { $0.hasPrefix("[") })
        #expect(bar.count == 34)
        // 16 GiB in 32 columns: whisper 8, piper 4, the reservation 4, foreign 2, the cushion line near the end.
        #expect(bar.filter { $0 == "█" }.count == 8)
        #expect(bar.filter { $0 == "▓" }.count == 4)
        #expect(bar.filter { $0 == "▒" }.count == 4)
        #expect(bar.filter { $0 == "░" }.count == 2)
        #expect(bar.contains("|"))
        #expect(text.contains("gpu0 (simulated, gpu0): 9.3 GiB of 16 GiB planned, 6.8 GiB free for loads; the device reports 5 GiB free of 16 GiB"))
        #expect(lines.contains { $0.hasPrefix("MODEL") && $0.contains("STATE") && $0.contains("FOOTPRINT") })
        #expect(lines.contains { $0.hasPrefix("whisper") && $0.contains("ready") && $0.contains("4 GiB") })
        #expect(lines.contains { $0.hasPrefix("guard") && $0.contains("unloaded") })
        #expect(StatusFixtures.report().rendered(color: true).contains("\u{1B}[33m█"), "priority 2 is yellow")
    }
}
