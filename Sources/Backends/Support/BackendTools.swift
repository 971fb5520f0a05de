import AsyncHTTPClient
import Logging
import VRAMPolicy

/// What every backend works with: its HTTP client, its clock, and a logger that names its model.
struct BackendTools: Sendable {
    let caller: HTTPCaller
    let clock: any Clock<Duration>
    let logger: Logger

    init(model: ModelID, httpClient: HTTPClient, clock: any Clock<Duration>, logger: Logger) {
        caller = HTTPCaller(client: httpClient)
        self.clock = clock
        var logger = logger
        logger[metadataKey: "model"] = "\(model)"
        self.logger = logger
    }
}

extension AsyncStream<BackendExit> {
    /// The exits of a backend that starts no process: a stream that has already finished.
    static var none: AsyncStream<BackendExit> {
        let (exits, continuation) = makeStream()
        continuation.finish()
        return exits
    }
}
