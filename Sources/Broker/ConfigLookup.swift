import VRAMConfig
import VRAMPolicy

/// What the request path asks of the config on every request, kept apart from it: reading
/// ``Scheduler``'s `config` copies the whole struct out of the actor, retaining every string
/// and array of every model, only to find one name.
struct ConfigLookup: Sendable {
    private var ids: [String: ModelID] = [:]
    private var serialized: Set<DeviceID> = []

    init(_ config: Config) {
        // A model's own name wins over another's alias, and the first model over a later one,
        // as in `Config.model(named:)`.
        for model in config.models {
            for alias in model.aliases where ids[alias] == nil { ids[alias] = model.id }
        }
        for model in config.models.reversed() { ids[model.id.rawValue] = model.id }
        serialized = Set(config.devices.lazy.filter(\.serialize).map(\.id))
    }

    /// The model `name` or one of its aliases names.
    func modelID(named name: String) -> ModelID? { ids[name] }

    /// Whether `device` serves one request at a time.
    func serializes(_ device: DeviceID) -> Bool { serialized.contains(device) }
}
