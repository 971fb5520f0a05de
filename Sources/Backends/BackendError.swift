import Devices
import VRAMPolicy

/// Why a backend could not do what it was asked.
public struct BackendError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in one sentence that names the model.
    public var message: String
    /// The last lines the model's process printed, when it had one.
    public var lastLines: [String]
    /// The model did not become ready within its `load_timeout` (a 504 at the broker).
    public var isLoadTimeout: Bool

    public init(_ message: String, lastLines: [String] = [], isLoadTimeout: Bool = false) {
        self.message = message
        self.lastLines = lastLines
        self.isLoadTimeout = isLoadTimeout
    }

    public var description: String {
        guard !lastLines.isEmpty else { return message }
        return message + "; last output:\n" + lastLines.suffix(10).map { "  | \($0)" }.joined(separator: "\n")
    }

    static func alreadyLoaded(_ model: ModelID) -> BackendError {
        BackendError("\(model) is already loaded")
    }

    static func exitedDuringLoad(_ model: ModelID, _ status: ExitStatus, lastLines: [String]) -> BackendError {
        BackendError("\(model) \(status) before it became ready", lastLines: lastLines)
    }

    static func loadTimedOut(_ model: ModelID, after timeout: Duration, lastLines: [String]) -> BackendError {
        BackendError("\(model) did not become ready within \(timeout); it was stopped", lastLines: lastLines, isLoadTimeout: true)
    }
}
