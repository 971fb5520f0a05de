import Synchronization
import VRAMConfig
import VRAMPolicy

/// A request's hold on a loaded model: its endpoint, and a slot that ``release()`` gives back.
public final class Lease: Sendable {
    public let model: ModelID
    /// Where the request runs: its slot there is given back at release.
    let device: DeviceID?
    /// The backend's base URL, e.g. `http://127.0.0.1:41234`.
    public let endpoint: String
    public let config: ModelConfig
    private let scheduler: Scheduler
    private let released = Mutex(false)

    init(scheduler: Scheduler, model: ModelID, device: DeviceID?, endpoint: String, config: ModelConfig) {
        self.scheduler = scheduler
        self.model = model
        self.device = device
        self.endpoint = endpoint
        self.config = config
    }

    /// Gives the slot back; later calls do nothing.
    public func release() async {
        let first = released.withLock { released in
            defer { released = true }
            return !released
        }
        if first { await scheduler.release(model, on: device) }
    }
}
