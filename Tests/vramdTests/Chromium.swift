import Foundation
import Testing

/// Headless Chromium, run as a program: the page's script runs for real, then the DOM it built
/// is printed (or a screenshot taken). `scripts/test` installs Debian's `chromium`.
enum Chromium {
    /// `VRAMD_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH. Without one the page
    /// tests are skipped, unless `VRAMD_REQUIRE_REAL=1` says they must run.
    static var binary: URL? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["VRAMD_CHROMIUM"] { return URL(fileURLWithPath: path) }
        let directories = (environment["PATH"] ?? "/usr/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return URL(fileURLWithPath: "\(directory)/\(name)")
            }
        }
        if environment["VRAMD_REQUIRE_REAL"] == "1" { Issue.record("no chromium on the PATH (scripts/test installs it)") }
        return nil
    }

    /// Loads `url`, lets its script run for `budget` of virtual time, returns the DOM as HTML.
    ///
    /// Each run gets its own profile, so nothing (a stored token) leaks from one to the next.
    static func dumpDOM(_ browser: URL, _ url: String, in directory: String, budget: Duration = .seconds(5)) throws -> String {
        let result = try CommandRunner.run(executable: browser, options(directory) + ["--virtual-time-budget=\(budget.milliseconds)", "--dump-dom", url])
        try #require(result.status == 0, "chromium failed: \(result.stderr.suffix(2000))")
        return result.stdout
    }

    /// Saves a PNG of the page at `url` to `path`.
    static func screenshot(_ browser: URL, _ url: String, to path: String, in directory: String, budget: Duration = .seconds(5)) throws {
        let arguments = options(directory) + ["--virtual-time-budget=\(budget.milliseconds)", "--window-size=1280,900", "--screenshot=\(path)", url]
        let result = try CommandRunner.run(executable: browser, arguments)
        try #require(result.status == 0, "chromium failed: \(result.stderr.suffix(2000))")
    }

    private static func options(_ directory: String) -> [String] {
        let profile = directory + "/chromium-\(UUID().uuidString)"
        return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)"]
    }
}

private extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
