import Synchronization
import VRAMConfig

/// The broker's settings as the routes read them: a reload replaces the ones it applies
/// (``BrokerSettings/reloaded(from:)``, `routing` and `loading_feedback` among them) while
/// requests are being routed, so each request reads them under a lock.
final class LiveSettings: Sendable {
    private let settings: Mutex<BrokerSettings>

    init(_ settings: BrokerSettings) {
        self.settings = Mutex(settings)
    }

    var current: BrokerSettings { settings.withLock { $0 } }

    /// Takes up the settings a reload applies from `new`.
    func reload(from new: BrokerSettings) {
        settings.withLock { $0 = $0.reloaded(from: new) }
    }
}
