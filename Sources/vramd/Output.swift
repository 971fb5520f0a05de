import Foundation

/// Writes a line to standard error, where diagnostics belong so `--json` output stays clean.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
