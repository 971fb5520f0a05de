import Devices
import Foundation
import Testing
@testable import Backends

@Suite struct ProcessBackendTests {
    let host = Placement(device: "host", probe: HostDeviceProbe())

    /// The command sees `${PORT}` and `${MODEL_ID}` substituted and the CUDA/MPS variables set;
    /// it exits before it is ready, and the load fails with its status and last lines.
    @Test(.timeLimit(.minutes(1)))
    func childEnvironmentAndEarlyExitAreReported() async throws {
        let backend = ProcessBackend(
            model: "tiny/chat",
            configuration: .init(
                command: ["sh", "-c", "echo port=${PORT} model=${MODEL_ID} cuda=$CUDA_VISIBLE_DEVICES mps=$CUDA_MPS_ACTIVE_THREAD_PERCENTAGE limit=$CUDA_MPS_PINNED_DEVICE_MEM_LIMIT extra=$EXTRA; exit 7"],
                environment: ["EXTRA": "on-${PORT}"],
                mps: MPSPartition(threads: 50, memory: 8 << 30)))
        let placement = Placement(device: "gpu0", probe: HostDeviceProbe(), cudaVisibleDevices: "GPU-1234")
        let error = try await #require(throws: BackendError.self) { try await backend.load(on: placement) }
        #expect(error.message.contains("exited with status 7 before it became ready"))
        let line = try #require(error.lastLines.first { $0.hasPrefix("port=") })
        let port = try #require(Int(line.split(separator: " ")[0].dropFirst(5)))
        #expect(port > 0)
        #expect(line == "port=\(port) model=tiny/chat cuda=GPU-1234 mps=50 limit=0=8192M extra=on-\(port)")
        #expect(await backend.health() == .notLoaded)
    }

    /// A server that never answers its readiness path: the load gives up at `load_timeout` and
    /// nothing of its process group is left, even though every process in it ignores SIGTERM.
    @Test(.timeLimit(.minutes(1)))
    func neverReadyTimesOutAndLeavesNoProcess() async throws {
        let backend = ProcessBackend(
            model: "stuck",
            configuration: .init(command: ["sh", "-c", "trap '' TERM; sleep 600 & echo started; wait"],
                                 stopTimeout: .milliseconds(200), loadTimeout: .milliseconds(500)))
        var exits = backend.exits.makeAsyncIterator()
        let started = ContinuousClock.now
        let error = try await #require(throws: BackendError.self) { try await backend.load(on: host) }
        let took = started.duration(to: .now)
        #expect(error.message.contains("did not become ready within"))
        #expect(error.lastLines.contains("started"))
        // 500 ms to give up, 200 ms of ignored SIGTERM, then SIGKILL. The upper bound only says
        // it did not wait for the process's own 600 s: timings are not asserted on a loaded CI box.
        #expect(took >= .milliseconds(700) && took < .seconds(60), "load failed after \(took)")
        let exit = try #require(await exits.next())
        #expect(exit.expected)
        #expect(exit.status.signal == SIGKILL)
        #expect(groupIsGone(exit.pid))
        #expect(await backend.port == nil)
    }

    /// Readiness is polled every few milliseconds: the server's own clock measures the gap between
    /// it turning ready and the first successful poll.
    @Test(.timeLimit(.minutes(1)))
    func readinessIsNoticedWithinMilliseconds() async throws {
        let backend = ProcessBackend(
            model: "python",
            configuration: .init(command: [RealTools.python, RealTools.modelServer, "--port", "${PORT}", "--ready-after", "0.4"]))
        let loaded = try await backend.load(on: host)
        #expect(loaded.loadDuration >= .milliseconds(400))
        #expect(try #require(loaded.footprint) > 4 * MiB, "a Python interpreter's RSS")
        #expect(loaded.pid != nil)
        let stats = try await request("GET", loaded.endpoint, "/stats")
        let notice = try #require(stats.json?["notice_ms"] as? Double)
        print("readiness noticed \(notice) ms after the server turned ready; load took \(loaded.loadDuration)")
        // The aim is 10 ms (4-30 ms measured on an idle machine). How fast is a performance
        // figure, reported by scripts/bench's cold-load benchmark; here only that it was noticed
        // by polling (a positive gap measured by the server's own clock) is asserted.
        #expect(notice >= 0)
        await #expect(throws: BackendError.self) { try await backend.load(on: host) }
        let report = try await backend.unload()
        #expect(report.wasLoaded && report.memoryReturned)
        #expect(groupIsGone(try #require(loaded.pid)))
        #expect(try await backend.unload().wasLoaded == false)
    }

    /// A crash is reported on `exits` as unexpected, and the model can be loaded again as soon as
    /// the report arrives (the broker's restart path).
    @Test(.timeLimit(.minutes(1)))
    func crashedServerCanBeLoadedAgainAtOnce() async throws {
        let backend = ProcessBackend(model: "python", configuration: .init(command: [RealTools.python, RealTools.modelServer, "--port", "${PORT}"]))
        var exits = backend.exits.makeAsyncIterator()
        let first = try await backend.load(on: host)
        kill(try #require(first.pid), SIGKILL)
        let crash = try #require(await exits.next())
        #expect(!crash.expected && crash.status.signal == SIGKILL && crash.pid == first.pid)
        #expect(await backend.health() == .notLoaded)

        let second = try await backend.load(on: host)
        #expect(second.pid != first.pid)
        #expect(await backend.health() == .healthy)
        let report = try await backend.unload()
        #expect(report.wasLoaded && report.exit?.signal == SIGTERM)
        let stopped = try #require(await exits.next())
        #expect(stopped.expected && stopped.pid == second.pid)
    }
}
