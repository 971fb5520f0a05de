import Foundation
import Testing

/// The real tools some tests need (python with gguf, llama-server, the gemma model), found
/// through the variables `scripts/test` exports.
///
/// A test that needs one is skipped with a message when the variable is unset, unless
/// `VRAMD_REQUIRE_REAL=1` (set by `scripts/test` and CI): then it runs and fails, so a broken
/// bootstrap cannot pass as a skipped test.
enum TestEnvironment {
    static let python = "VRAMD_PYTHON"
    static let llamaServer = "VRAMD_LLAMA_SERVER"
    static let model = "VRAMD_TEST_MODEL"

    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    static var requireReal: Bool { value("VRAMD_REQUIRE_REAL") == "1" }

    /// Whether a test needing `names` should run (see the type's discussion).
    static func canRun(_ names: String...) -> Bool {
        requireReal || names.allSatisfy { value($0) != nil }
    }

    /// The variable's value, or a test failure saying it is missing.
    static func require(_ name: String) throws -> String {
        try #require(value(name), "\(name) is not set but VRAMD_REQUIRE_REAL=1; run scripts/test")
    }

    /// The repository root, found from this file's path.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program to completion with its output in a file (a pipe could fill and block it).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let log = try temporaryDirectory("run").appendingPathComponent("output.txt")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: log.deletingLastPathComponent())
        return (process.terminationStatus, output)
    }
}

/// The fixtures `scripts/gguf-fixtures.py` writes with gguf-py, generated once per test run.
enum Fixtures {
    static let names = ["llama-gqa", "moe", "sliding", "served-llama", "served-moe"]

    private static let generated: Result<URL, FixtureError> = {
        do {
            let python = try TestEnvironment.require(TestEnvironment.python)
            // Inside the build folder, rewritten on every run, so runs do not pile up copies.
            let directory = TestEnvironment.repositoryRoot.appendingPathComponent(".build/gguf-fixtures")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/gguf-fixtures.py").path
            let result = try TestEnvironment.run(python, [script, directory.path])
            guard result.status == 0 else { return .failure(FixtureError(message: result.output)) }
            return .success(directory)
        } catch {
            return .failure(FixtureError(message: "\(error)"))
        }
    }()

    /// The directory holding `NAME.gguf` and `NAME.json` for each fixture.
    static func directory() throws -> URL {
        try generated.get()
    }

    static func path(_ name: String) throws -> String {
        try directory().appendingPathComponent("\(name).gguf").path
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { "fixture generation failed: \(message)" }
}
