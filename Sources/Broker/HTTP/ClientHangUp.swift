import NIOCore
import Synchronization

/// Notices a client that hangs up before its answer has begun, so a request waiting in vramd's
/// queue (or for a load) gives up its place instead of holding it until its turn.
///
/// Hummingbird does not cancel a handler when its client goes: connections allow half-closure,
/// and nothing reads the connection while the handler runs. This handler sits in each
/// connection's pipeline and sees the end of the client's input (`ChannelEvent.inputClosed`,
/// or the connection closing), which HTTP clients only send when they give up a request.
final class ClientHangUp: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    // It reads nothing: the parts pass through untouched, whatever their type.
    typealias InboundIn = Any

    private struct State {
        var hungUp = false
        var callbacks: [Int: @Sendable () -> Void] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { hangUp() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        hangUp()
        context.fireChannelInactive()
    }

    private func hangUp() {
        let callbacks = state.withLock { state in
            state.hungUp = true
            defer { state.callbacks = [:] }
            return Array(state.callbacks.values)
        }
        for callback in callbacks { callback() }
    }

    /// Calls `callback` when the client hangs up (at once if it has); the returned key removes it.
    func onHangUp(_ callback: @escaping @Sendable () -> Void) -> Int? {
        let key: Int? = state.withLock { state in
            guard !state.hungUp else { return nil }
            state.next += 1
            state.callbacks[state.next] = callback
            return state.next
        }
        if key == nil { callback() }
        return key
    }

    func remove(_ key: Int?) {
        guard let key else { return }
        _ = state.withLock { $0.callbacks.removeValue(forKey: key) }
    }
}
