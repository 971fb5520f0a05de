import ArgumentParser
import Foundation
import VRAMConfig

/// Writes a line to standard error, where diagnostics belong so `--json` output stays clean.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Reads a config; on any problem prints every error (file, key path, line) and exits 1.
func loadConfigOrExit(_ path: String) throws -> Config {
    do {
        return try Config.load(path: path)
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}
