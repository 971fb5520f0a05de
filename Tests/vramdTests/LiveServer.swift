import AsyncHTTPClient
import Broker
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A process started for a test, whose first line of output says it is ready.
final class LiveProcess: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; it is only touched from the test's own task.
    let process: Process
    let outputPath: String
    let errorPath: String

    /// Starts `executable` and waits (on a Dispatch thread, not the test's pool) until a line of
    /// its standard output contains `marker`; returns that line.
    static func start(_ executable: String, _ arguments: [String], in directory: String, name: String,
                      waitingFor marker: String) async throws -> (LiveProcess, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        let errorPath = directory + "/\(name).err"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.standardOutput = pipe
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
        let outputPath = directory + "/\(name).out"
        let handle = pipe.fileHandleForReading
        let line: String? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var seen = Data()
                var found: String?
                while found == nil {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    seen.append(chunk)
                    // Whole lines only: an unbuffered child may write one line in several pieces.
                    let lines = String(decoding: seen, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                    found = lines.first { $0.contains(marker) }.map(String.init)
                }
                _ = FileManager.default.createFile(atPath: outputPath, contents: seen)
                continuation.resume(returning: found)
                // Keep draining so the child never blocks on a full pipe.
                while !handle.availableData.isEmpty {}
            }
        }
        let live = LiveProcess(process: process, outputPath: outputPath, errorPath: errorPath)
        guard let line else {
            live.stop()
            throw LiveError("\(name) ended before printing '\(marker)':\n\(live.errors.suffix(2000))")
        }
        return (live, line)
    }

    private init(process: Process, outputPath: String, errorPath: String) {
        self.process = process
        self.outputPath = outputPath
        self.errorPath = errorPath
    }

    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits for the exit (SIGKILL after `grace`); returns the exit status.
    ///
    /// The child inherits the test runner's blocked signals, SIGTERM among them: a program that
    /// does not unblock it (as vramd's signal handling and our Python scripts do) would never
    /// end, and `waitUntilExit` would spin forever.
    @discardableResult
    func stop(grace: Duration = .seconds(20)) -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now.advanced(by: grace)
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("pid \(process.processIdentifier) ignored SIGTERM for \(grace); killed")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGKILL, for a program that has no reason to handle SIGTERM (`vramd status --watch`).
    func forceStop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

struct LiveError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A running `vramd serve` and the test backend behind it.
struct LiveBroker {
    let vramd: LiveProcess
    let url: String
    let directory: String

    static var python: String { ProcessInfo.processInfo.environment["VRAMD_PYTHON"] ?? "/usr/bin/python3" }
    static var backendScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/observe_backend.py").path
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-observe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Starts the Python backend; returns it and its base URL.
    static func backend(in directory: String, gated: Bool = false) async throws -> (LiveProcess, String) {
        let (process, line) = try await LiveProcess.start(python, [backendScript, "--port", "0", "--name", "http"] + (gated ? ["--gated"] : []),
                                                          in: directory, name: "backend", waitingFor: "listening")
        return (process, "http://127.0.0.1:" + (line.split(separator: " ").last.map(String.init) ?? "0"))
    }

    /// Writes `config` and starts `vramd serve` on it.
    static func start(config: String, in directory: String, arguments: [String] = []) async throws -> LiveBroker {
        let path = directory + "/vramd.yaml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let (process, line) = try await LiveProcess.start(CommandRunner.binary.path, ["serve", "--config", path] + arguments,
                                                          in: directory, name: "vramd", waitingFor: "vramd listening on")
        return LiveBroker(vramd: process, url: String(line.split(separator: " ").last ?? ""), directory: directory)
    }

    func get(_ path: String, token: String? = nil) async throws -> (status: Int, body: String) {
        try await send(.GET, path, token: token)
    }

    func post(_ path: String, json: String = "{}", token: String? = nil) async throws -> (status: Int, body: String) {
        try await send(.POST, path, body: json, token: token)
    }

    func send(_ method: HTTPMethod, _ path: String, body: String? = nil, token: String? = nil) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 16 << 20)))
    }

    func status(token: String? = nil) async throws -> StatusReport {
        let (code, body) = try await get("/v1/status", token: token)
        try #require(code == 200, "\(body)")
        return try JSONDecoder().decode(StatusReport.self, from: Data(body.utf8))
    }

    /// Opens a streamed GET (`/v1/events`, a chat with `"stream": true`, logs).
    func stream(_ path: String, method: HTTPMethod = .GET, body: String? = nil, headers: [(String, String)] = []) async throws -> StreamReader {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        return StreamReader(status: Int(response.status.code), iterator: response.body.makeAsyncIterator())
    }
}

/// Reads a streamed body until what a test waits for has arrived.
final class StreamReader: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    let status: Int
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private(set) var text = ""
    private var consumed: String.Index

    init(status: Int, iterator: HTTPClientResponse.Body.AsyncIterator) {
        self.status = status
        self.iterator = iterator
        consumed = text.startIndex
    }

    /// Reads until `condition` holds for everything received so far; fails if the stream ends.
    @discardableResult
    func read(until condition: (String) -> Bool) async throws -> String {
        while !condition(text) {
            guard let chunk = try await iterator.next() else { throw LiveError("the stream ended; received:\n\(text)") }
            text += String(buffer: chunk)
        }
        return text
    }

    /// The next complete SSE event (`event:` and `data:`), skipping comments.
    func nextEvent() async throws -> (kind: String, data: [String: Any]) {
        while true {
            if let end = text[consumed...].range(of: "\n\n") {
                let frame = text[consumed..<end.lowerBound]
                consumed = end.upperBound
                let lines = frame.split(separator: "\n")
                guard let kind = lines.first(where: { $0.hasPrefix("event: ") }), let data = lines.first(where: { $0.hasPrefix("data: ") }) else { continue }
                let object = try JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8)) as? [String: Any] ?? [:]
                return (String(kind.dropFirst(7)), object)
            }
            guard let chunk = try await iterator.next() else { throw LiveError("the stream ended; received:\n\(text)") }
            text += String(buffer: chunk)
        }
    }

    /// Events until one of `kind` about `model` arrives; returns them all, that one last.
    func events(until kind: String, model: String) async throws -> [(kind: String, data: [String: Any])] {
        var seen: [(kind: String, data: [String: Any])] = []
        while true {
            let event = try await nextEvent()
            seen.append(event)
            if event.kind == kind && event.data["model"] as? String == model { return seen }
        }
    }
}
