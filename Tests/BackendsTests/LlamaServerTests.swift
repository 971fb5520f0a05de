import Devices
import Foundation
import Testing
@testable import Backends

/// The gemma-3-270m model served by llama.cpp's real server, as a `process` backend on the host
/// device.
@Suite(.enabled(if: RealTools.llamaEnabled, "needs llama.cpp's server and the gemma model: run scripts/test"),
       .serialized)
struct LlamaServerTests {
    let host = Placement(device: "host", probe: HostDeviceProbe())

    func backend(logDirectory: String? = nil) throws -> ProcessBackend {
        let (server, model) = try RealTools.requireLlama()
        return ProcessBackend(
            model: "gemma",
            configuration: .init(command: [server, "-m", model, "--host", "127.0.0.1", "--port", "${PORT}", "-c", "2048", "--parallel", "1"],
                                 stopTimeout: .seconds(10), loadTimeout: .seconds(120)),
            logDirectory: logDirectory)
    }

    @Test(.timeLimit(.minutes(3)))
    func loadCompleteMeasureAndStop() async throws {
        try await RealTools.withTemporaryDirectory { logs in
            let backend = try backend(logDirectory: logs)
            var exits = backend.exits.makeAsyncIterator()

            let loaded = try await backend.load(on: host)
            let pid = try #require(loaded.pid)
            print("gemma ready after \(loaded.loadDuration), footprint \(loaded.footprint.map { $0 >> 20 } ?? 0) MiB")
            #expect(await backend.health() == .healthy)

            let answer = try await request("POST", loaded.endpoint, "/completion", body: #"{"prompt": "The capital of France is", "n_predict": 8}"#)
            #expect(answer.status == 200)
            let content = try #require(answer.json?["content"] as? String)
            #expect(!content.isEmpty)
            #expect(answer.json?["tokens_predicted"] as? Int ?? 0 > 0)

            // The 253 MB model file is mapped and read, so the server's tree holds at least that.
            let footprint = try #require(try await backend.measuredFootprint())
            print("gemma RSS after one completion: \(footprint >> 20) MiB")
            #expect(footprint > 200 * MiB && footprint < 2048 * MiB)

            let report = try await backend.unload()
            #expect(report.wasLoaded)
            #expect(report.memoryReturned)
            #expect(try #require(report.peakFootprint) >= footprint)
            #expect(groupIsGone(pid), "no process of the server's group is left")
            #expect(await backend.health() == .notLoaded)

            let exit = try #require(await exits.next())
            #expect(exit.pid == pid)
            #expect(exit.expected)
            let log = try String(contentsOfFile: try #require(exit.logFile), encoding: .utf8)
            #expect(log.contains("--- vramd: starting"))
            #expect(log.split(separator: "\n").count > 1, "the server's own output is in the log")
        }
    }

    /// Killed with SIGKILL in the middle of a completion: the exit is reported as unexpected,
    /// with its status, within a second of the kill.
    @Test(.timeLimit(.minutes(3)))
    func killWhileServingIsSeenAtOnce() async throws {
        let backend = try backend()
        var exits = backend.exits.makeAsyncIterator()
        let loaded = try await backend.load(on: host)
        let pid = try #require(loaded.pid)

        let serving = Task {
            try? await request("POST", loaded.endpoint, "/completion", body: #"{"prompt": "Count to one thousand:", "n_predict": 4000}"#).status
        }
        // Wait until the server is really working on the request (its slot is taken).
        var busy = false
        while !busy {
            let slots = try await HTTPCaller(client: .shared).send(HTTPCall(path: "/slots"), to: loaded.endpoint, model: "gemma", timeout: .seconds(5))
            busy = slots.body.contains("\"is_processing\":true")
        }

        let clock = ContinuousClock()
        let killedAt = clock.now
        kill(pid, SIGKILL)
        let exit = try #require(await exits.next())
        let seenAfter = killedAt.duration(to: clock.now)
        print("SIGKILL seen after \(seenAfter.milliseconds) ms")
        #expect(seenAfter < .seconds(1))
        #expect(exit.pid == pid)
        #expect(!exit.expected)
        #expect(exit.status.signal == SIGKILL)
        _ = await serving.value
        #expect(await backend.health() == .notLoaded)
        #expect(try await backend.unload().wasLoaded == false)
    }
}
