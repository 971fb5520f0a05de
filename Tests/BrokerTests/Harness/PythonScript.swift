import Foundation

/// Runs a Python script of the test suite with the project's venv (`VRAMD_PYTHON`), feeding it
/// `input`, and returns what it printed; a script that fails throws with its error output.
enum PythonScript {
    static func run(_ script: String, input: String) async throws -> String {
        let python = TestPrograms.python
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/env")
        process.arguments = [python, script]
        let stdin = Pipe(), stdout = Pipe()
        let errorFile = FileManager.default.temporaryDirectory.appending(path: "vramd-python-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        // Blocking reads and writes: on a Dispatch thread, not the test's pool.
        let output: String = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                DispatchQueue.global().async {
                    stdin.fileHandleForWriting.write(Data(input.utf8))
                    try? stdin.fileHandleForWriting.close()
                }
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: output, as: UTF8.self))
            }
        }
        guard process.terminationStatus == 0 else {
            let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            throw HarnessError("\(script) failed (\(process.terminationStatus)):\n\(errors)")
        }
        return output
    }
}
