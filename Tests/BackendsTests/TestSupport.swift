import Devices
import Foundation
import Testing
@testable import Backends

/// The real tools the backend tests run, from the variables `scripts/test` exports.
///
/// Without them the real-backend tests are skipped, unless `VRAMD_REQUIRE_REAL=1` says they must
/// run, in which case they fail on the missing variable.
enum RealTools {
    static let environment = ProcessInfo.processInfo.environment
    static var python: String { environment["VRAMD_PYTHON"] ?? "python3" }
    static var llamaServer: String? { environment["VRAMD_LLAMA_SERVER"] }
    static var testModel: String? { environment["VRAMD_TEST_MODEL"] }
    static var required: Bool { environment["VRAMD_REQUIRE_REAL"] == "1" }
    /// Whether the llama.cpp tests should run: the tools are there, or they are required.
    static var llamaEnabled: Bool { required || (llamaServer != nil && testModel != nil) }

    static func requireLlama() throws -> (server: String, model: String) {
        let server = try #require(llamaServer, "VRAMD_LLAMA_SERVER is not set: run scripts/test (it installs llama.cpp's server)")
        let model = try #require(testModel, "VRAMD_TEST_MODEL is not set: run scripts/test (it installs the gemma model)")
        return (server, model)
    }

    static func server(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Servers").appendingPathComponent(name).path
    }

    static var modelServer: String { server("model_server.py") }

    /// Runs `body` with a fresh directory for one test's files, removed afterwards.
    static func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}

/// `model_server.py` run as a real process on a free port, for the `http`, `ollama` and
/// `external` backends.
struct TestModelServer {
    let child: ChildProcess
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    /// Starts the server and returns once it prints that it listens.
    static func start(_ arguments: [String] = []) async throws -> TestModelServer {
        let port = try FreePort.pick()
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        let child = try ChildProcess.spawn([RealTools.python, RealTools.modelServer, "--port", "\(port)"] + arguments,
                                           onOutputLine: { continuation.yield($0) }, onExit: { _, _ in continuation.finish() })
        for await line in lines where line.hasPrefix("listening") {
            return TestModelServer(child: child, port: port)
        }
        throw BackendError("the test model server exited before it listened")
    }

    func stop() async {
        child.signalGroup(SIGTERM)
        _ = await child.waitForExit()
    }

    /// Runs `body` with a started server and stops it afterwards, whether `body` threw or not, so
    /// no server outlives its test.
    static func with<T>(_ arguments: [String] = [], _ body: (TestModelServer) async throws -> T) async throws -> T {
        let server = try await start(arguments)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

/// Whether any process of group `group` is still alive (zombies aside).
func groupIsGone(_ group: Int32) -> Bool {
    ProcessTree.liveMembers(ofProcessGroup: group).isEmpty
}

extension Duration {
    var milliseconds: Double { Double(nanoseconds) / 1e6 }
}

let MiB: UInt64 = 1 << 20

/// Sends one request the way the backends do and decodes a JSON object answer.
func request(_ method: String, _ base: String, _ path: String, body: String? = nil,
             timeout: Duration = .seconds(60)) async throws -> (status: Int, json: [String: Any]?) {
    let response = try await HTTPCaller(client: .shared).send(HTTPCall(method: method, path: path, body: body), to: base,
                                                              model: "test", timeout: timeout)
    let json = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
    return (response.status, json)
}
