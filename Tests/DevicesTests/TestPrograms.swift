import Foundation

/// The helper programs under Tests/DevicesTests/Programs and what runs them.
enum TestPrograms {
    /// The project venv's Python when `scripts/test` set `VRAMD_PYTHON`, else the system's
    /// `python3` (the host probe tests need nothing beyond it).
    static var python: String {
        ProcessInfo.processInfo.environment["VRAMD_PYTHON"] ?? "python3"
    }

    /// The Swift toolchain's C compiler, which sits beside `swift`; `cc` where it is not on PATH.
    static var cCompiler: String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let hasClang = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/clang") }
        return hasClang ? "clang" : "cc"
    }

    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Programs").appendingPathComponent(name).path
    }
}
