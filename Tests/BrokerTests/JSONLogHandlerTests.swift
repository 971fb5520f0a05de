import Foundation
import Logging
import Synchronization
import Testing
@testable import Broker

@Suite struct JSONLogHandlerTests {
    @Test func writesOneJSONObjectPerLineWithTheMetadata() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "vramd") { line in lines.withLock { $0.append(line) } }
        handler[metadataKey: "run"] = "r1"
        let logger = Logger(label: "vramd", factory: { _ in handler })
        logger.info("evict", metadata: ["model": "whisper", "bytes": "4294967296", "rule": "lower_or_same_tier",
                                        "victims": ["a", "b"], "detail": ["device": "gpu0"]])
        logger.debug("not shown at info")
        let written = lines.withLock { $0 }
        try #require(written.count == 1)
        #expect(written[0].hasSuffix("\n") && !written[0].dropLast().contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: Any])
        #expect(object["message"] as? String == "evict")
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "vramd")
        #expect((object["time"] as? String)?.hasSuffix("Z") == true)
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["model"] as? String == "whisper")
        #expect(metadata["bytes"] as? String == "4294967296")
        #expect(metadata["rule"] as? String == "lower_or_same_tier")
        #expect(metadata["run"] as? String == "r1")
        #expect(metadata["victims"] as? [String] == ["a", "b"])
        #expect((metadata["detail"] as? [String: String]) == ["device": "gpu0"])
    }
}
