import Devices
import Foundation
import Testing
@testable import Backends

/// The `http`, `ollama` and `external` backends against `model_server.py`, a real server process
/// that holds memory while a model is loaded.
@Suite struct HTTPBackendTests {
    let host = Placement(device: "host", probe: HostDeviceProbe())

    @Test(.timeLimit(.minutes(1)))
    func httpLoadAndUnloadMoveTheServersMeasuredMemory() async throws {
        try await TestModelServer.with { server in
            let backend = HTTPBackend(model: "voice", configuration: .init(
                url: server.url,
                load: HTTPCall(method: "POST", path: "/load", body: #"{"model": "${MODEL_ID}", "mib": 300}"#),
                unload: HTTPCall(method: "POST", path: "/unload"),
                health: HTTPCall(path: "/health")))

            #expect(await HTTPBackend.localServerPID(server.url) == server.child.pid, "the server is found by its port")
            let loaded = try await backend.load(on: host)
            #expect(loaded.pid == nil, "vramd did not start the server")
            #expect(loaded.endpoint == server.url)
            let footprint = try #require(loaded.footprint)
            #expect(footprint >= 290 * MiB && footprint <= 330 * MiB, "measured \(footprint >> 20) MiB for a 300 MiB load")
            #expect(await backend.health() == .healthy)
            let status = try await request("GET", server.url, "/stats")
            #expect(status.json?["loaded_mib"] as? Int == 300)

            let report = try await backend.unload()
            #expect(report.wasLoaded)
            #expect(report.memoryReturned, "the server's RSS fell back after the unload")
            #expect(try #require(report.peakFootprint) >= 290 * MiB)
            #expect(try await request("GET", server.url, "/stats").json?["loaded_mib"] as? Int == 0)
            #expect(try await backend.measuredFootprint() == nil)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func httpLoadThatFailsSaysWhat() async throws {
        try await TestModelServer.with { server in
            let backend = HTTPBackend(model: "voice", configuration: .init(url: server.url, load: HTTPCall(method: "POST", path: "/no-such-route")))
            let error = try await #require(throws: BackendError.self) { try await backend.load(on: host) }
            #expect(error.message.contains("answered 404"))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func ollamaLoadsWithKeepAliveAndReportsApiPsSize() async throws {
        try await TestModelServer.with(["--ollama-mib", "48"]) { server in
            let backend = OllamaBackend(model: "llama", configuration: .init(url: server.url, ollamaModel: "llama3.2:1b"))
            #expect(backend.management == .selfManaged)
            let loaded = try await backend.load(on: host)
            #expect(loaded.footprint == 48 * MiB)
            let listed = try await request("GET", server.url, "/api/ps")
            #expect((listed.json?["models"] as? [[String: Any]])?.first?["name"] as? String == "llama3.2:1b")
            let report = try await backend.unload()
            #expect(report.memoryReturned)
            #expect(report.peakFootprint == 48 * MiB)
            #expect(try await backend.measuredFootprint() == nil)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func externalIsRoutedToButNeverUnloaded() async throws {
        let backend = try await TestModelServer.with { server in
            let backend = ExternalBackend(model: "shared", configuration: .init(url: server.url))
            #expect(backend.management == .external)
            let loaded = try await backend.load(on: host)
            #expect(loaded.endpoint == server.url && loaded.footprint == nil)
            await #expect(throws: BackendError.self) { try await backend.unload() }
            return backend
        }
        #expect(await !backend.health().isHealthy)
        await #expect(throws: BackendError.self) { try await backend.load(on: host) }
    }

    @Test func urlsAreSplitIntoHostAndPort() {
        #expect(HTTPBackend.hostAndPort("http://127.0.0.1:9000/v1") ?? ("", 0) == ("127.0.0.1", 9000))
        #expect(HTTPBackend.hostAndPort("http://localhost") ?? ("", 0) == ("localhost", 80))
        #expect(HTTPBackend.hostAndPort("http://[::1]:8080") ?? ("", 0) == ("[::1]", 8080))
        #expect(HTTPBackend.hostAndPort("not a url") == nil)
    }
}
