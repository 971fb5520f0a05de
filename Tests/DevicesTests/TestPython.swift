import Foundation

/// The Python interpreter helper programs run with: the project venv's when `scripts/test` set
/// `VRAMD_PYTHON`, else the system's `python3` (the host probe tests need nothing beyond it).
enum TestPython {
    static var executable: String {
        ProcessInfo.processInfo.environment["VRAMD_PYTHON"] ?? "python3"
    }

    static func program(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Programs").appendingPathComponent(name).path
    }
}
