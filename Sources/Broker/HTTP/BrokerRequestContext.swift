import Hummingbird
import NIOCore

/// vramd's request context: Hummingbird's basic one, plus the connection, to notice a client
/// that hangs up.
public struct BrokerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Runs `body` (waiting for a model), cancelled if the client hangs up meanwhile.
    func untilClientHangsUp<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let hangUp = try? await channel?.pipeline.handler(type: ClientHangUp.self).get() else { return try await body() }
        let task = Task { try await body() }
        let key = hangUp.onHangUp { task.cancel() }
        defer { hangUp.remove(key) }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }
}
