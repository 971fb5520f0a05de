import Testing
@testable import Backends

@Suite struct SupportTests {
    @Test func placeholdersAreReplacedEverywhere() {
        #expect("--port ${PORT} --alias ${MODEL_ID}-${PORT}".replacingPlaceholder("PORT", with: "81") == "--port 81 --alias ${MODEL_ID}-81")
        #expect("${PORT}".replacingPlaceholder("PORT", with: "1") == "1")
        #expect("no placeholder".replacingPlaceholder("PORT", with: "1") == "no placeholder")
    }

    @Test func mpsPartitionBecomesCUDAVariables() {
        #expect(MPSPartition(threads: 25).environment == ["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE": "25"])
        #expect(MPSPartition(memory: 1_500_000_000).environment == ["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=1431M"])
    }

    @Test func outputRingKeepsTheLastLinesInOrder() async throws {
        try await RealTools.withTemporaryDirectory { directory in
            let log = OutputLog(model: "a/b", directory: directory, capacity: 3)
            for line in 1...5 { log.append("line \(line)") }
            #expect(log.lastLines == ["line 3", "line 4", "line 5"])
            #expect(log.path == directory + "/a_b.log")
            let memoryOnly = OutputLog(model: "m", directory: nil, capacity: 3)
            memoryOnly.append("x")
            #expect(memoryOnly.lastLines == ["x"] && memoryOnly.path == nil)
        }
    }

    @Test func freePortsAreUsablePorts() throws {
        let port = try FreePort.pick()
        #expect((1024...65535).contains(port))
    }

    @Test(.timeLimit(.minutes(1)))
    func deadlineCancelsSlowWork() async throws {
        let result = try await Deadline.run(within: .milliseconds(20), clock: ContinuousClock()) {
            try await Task.sleep(for: .seconds(60))
            return 1
        }
        #expect(result == nil)
        #expect(try await Deadline.run(within: .seconds(60), clock: ContinuousClock()) { 2 } == 2)
    }
}
