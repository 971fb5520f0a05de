import Synchronization
import VRAMConfig
import VRAMPolicy

/// A request's hold on a loaded model: its endpoint, and a slot that ``release()`` gives back.
public final class Lease: Sendable {
    public let model: ModelID
    /// The backend's base URL, e.g. `http://127.0.0.1:41234`.
    public let endpoint: String
    public var config: ModelConfig { shared.config }
    let shared: SharedModelConfig
    private let scheduler: Scheduler
    private let released = Mutex(false)

    init(scheduler: Scheduler, model: ModelID, endpoint: String, config: SharedModelConfig) {
        self.scheduler = scheduler
        self.model = model
        self.endpoint = endpoint
        self.shared = config
    }

    /// Gives the slot back; later calls do nothing.
    public func release() async {
        if claim() { await scheduler.release(model) }
    }

    /// The same without a task when the scheduler is free at once (the direct path, on an
    /// event loop); otherwise in one.
    func releaseNow() {
        guard claim() else { return }
        if !scheduler.releaseNow(model) { Task { await scheduler.release(model) } }
    }

    /// Whether this is the first release.
    private func claim() -> Bool {
        released.withLock { released in
            defer { released = true }
            return !released
        }
    }
}
