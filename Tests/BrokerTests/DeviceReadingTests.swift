import Foundation
import Testing

/// vramd plans with what a real device says, not only with what vramd itself loaded: memory
/// another program takes after a model was loaded is seen before the next load is planned.
/// The device is an `nvidia` one read through a fake `nvidia-smi` whose figures the test sets.
@Suite(.timeLimit(.minutes(1)),
       .disabled(if: FakeGPU.nvmlPresent, "NVML is present: vramd would read the real GPU, not the fake nvidia-smi"))
struct DeviceReadingTests {
    static let gib: Int64 = 1 << 30
    /// A process that is not vramd's, as the driver would list it.
    static let foreignPID: Int32 = 424_242

    @Test func memoryAnotherProgramTakesIsSeenBeforeTheNextLoad() async throws {
        try await TestBackend.with(["--check-loaded"]) { backend in
            try await withTemporaryDirectory { directory in
                let gpu = try FakeGPU(in: directory, total: 16 * Self.gib, backend: backend, bytesPerModel: 6 * Self.gib)
                try await Vramd.with("""
                    policy: {min_residency: 0s}
                    devices: [{id: gpu0, kind: nvidia, cushion: 0B}]
                    models:
                      a: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "a"))}
                      b: {kind: llm, memory: 6GiB, backend: \(backend.yaml(model: "b"))}
                    """, environment: gpu.environment) { vramd in
                    // The backend's server is not vramd's child (an http backend): vramd counts
                    // the memory its models hold at their planned size, not as foreign.
                    #expect(try await vramd.chat("a").status == 200)

                    // Another program takes 10 GiB. b (6 GiB) fits only once a is gone; asked for
                    // at once, before any periodic reading, vramd must still see it.
                    try gpu.report(foreign: [(Self.foreignPID, 10 * Self.gib)])
                    let readingsBefore = gpu.readings
                    let reply = try await vramd.chat("b")
                    #expect(reply.status == 200, "\(reply)")
                    #expect(gpu.readings > readingsBefore)
                    let stats = try await backend.stats()
                    #expect(stats.unloads == ["a": 1], "a was not evicted to make room for b")
                    #expect(stats.maxLoaded == 1, "a and b were loaded together beside 10 GiB of someone else's")
                    #expect(try await vramd.model("a").state == "unloaded")
                    // A reading taken once b holds its memory tells b's 6 GiB from the other 10.
                    try await vramd.waitForStatus("10 GiB foreign beside b") { status in
                        (status["devices"] as? [[String: Any]])?.first?.int("foreign") == Int(10 * Self.gib)
                    }

                    // Now 12 GiB are someone else's and b is unloaded: a (6 GiB) cannot fit in
                    // the 4 GiB left, and vramd says so instead of loading it.
                    let unloaded = try await HTTP.post(vramd.url + "/v1/models/b/unload", json: [:])
                    #expect(unloaded.status == 200, "\(unloaded)")
                    try gpu.report(foreign: [(Self.foreignPID, 12 * Self.gib)])
                    let refused = try await vramd.chat("a")
                    #expect([503, 507].contains(refused.status) && refused.errorCode == "insufficient_memory", "\(refused)")
                    #expect(refused.error["model"] as? String == "a")
                    #expect(try await backend.stats().loads == ["a": 1, "b": 1], "a load was tried that could not fit")
                }
            }
        }
    }

    @Test func aProcessStillLoadingDoesNotHideAnotherProgramsMemory() async throws {
        try await TestBackend.with { backend in
            try await withTemporaryDirectory { directory in
                let gpu = try FakeGPU(in: directory, total: 16 * Self.gib, backend: backend, bytesPerModel: 6 * Self.gib)
                try gpu.report(foreign: [(Self.foreignPID, 10 * Self.gib)])
                try await Vramd.with("""
                    devices: [{id: gpu0, kind: nvidia, cushion: 0B}]
                    models:
                      slow: {kind: llm, memory: 4GiB, backend: {type: process, load_timeout: 30s,
                             command: \(TestPrograms.processCommand(["--ready-after", "4"]))}}
                    """, environment: gpu.environment) { vramd in
                    async let reply = vramd.chat("slow")
                    try await vramd.waitForModel("slow", "loading") { $0["state"] as? String == "loading" }
                    // Two readings taken while it loads (vramd reads the device every second).
                    let readingsBefore = gpu.readings
                    let deadline = ContinuousClock.now.advanced(by: .seconds(10))
                    while gpu.readings < readingsBefore + 2 && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    let status = try await vramd.status()
                    let model = try await vramd.model("slow")
                    #expect(model["state"] as? String == "loading", "the load ended before the readings: \(model)")
                    // Its process holds nothing yet; the other program's 10 GiB are all foreign.
                    let device = try #require((status["devices"] as? [[String: Any]])?.first)
                    #expect(device.int("foreign") == Int(10 * Self.gib), "\(device)")
                    #expect(try await reply.status == 200)
                }
            }
        }
    }
}
