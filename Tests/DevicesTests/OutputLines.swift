@testable import Devices

/// A child's output as an async sequence of lines, so tests wait for what the child says instead
/// of sleeping.
final class OutputLines: Sendable {
    let stream: AsyncStream<String>
    let continuation: AsyncStream<String>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
    }

    func spawn(_ argv: [String], options: ChildProcess.Options = .init()) throws -> ChildProcess {
        let continuation = continuation
        return try ChildProcess.spawn(argv, options: options, onOutputLine: { continuation.yield($0) },
                                      onExit: { _, _ in continuation.finish() })
    }
}

extension AsyncStream<String>.Iterator {
    /// The next line that starts with `prefix`, or `nil` if the output ends first.
    mutating func next(startingWith prefix: String) async -> String? {
        while let line = await next() {
            if line.hasPrefix(prefix) { return line }
        }
        return nil
    }
}
