/// A device as the policy sees it: how much it may plan into and what it must leave alone.
public struct DeviceSpec: Sendable, Hashable {
    public var id: DeviceID
    /// The most vramd may plan into (the smaller of a configured cap and the physical size).
    public var capacity: Int64
    /// Headroom never planned into (allocator slack, CUDA context, fragmentation).
    public var cushion: Int64

    public init(id: DeviceID, capacity: Int64, cushion: Int64 = 0) {
        self.id = id
        self.capacity = capacity
        self.cushion = cushion
    }
}

/// A model that occupies memory on a device.
public struct ResidentModel: Sendable, Hashable {
    public var id: ModelID
    public var device: DeviceID
    public var bytes: Int64
    public var loadedAt: Instant
    public var lastUsed: Instant
    /// Requests currently being served; a model with any is never evicted.
    public var inFlight: Int
    /// Requests for it have overlapped with a load of another model that wants its memory: only
    /// then does ``PolicyOptions/minResidency`` keep it, so a lone client that alternates
    /// between models never waits for it.
    public var contended = false

    // Copied from the model's spec whenever it changes, so planning over thousands of residents
    // never looks a model up by name.
    public internal(set) var priority = 0
    public internal(set) var qos = QoS.burstable
    public internal(set) var pinned = false
    public internal(set) var exclusiveGroup: String?
    /// The part of its reservation that stays held on this device once it is evicted.
    public internal(set) var reservedHere: Int64 = 0

    public init(id: ModelID, device: DeviceID, bytes: Int64, loadedAt: Instant, lastUsed: Instant, inFlight: Int = 0) {
        self.id = id
        self.device = device
        self.bytes = bytes
        self.loadedAt = loadedAt
        self.lastUsed = lastUsed
        self.inFlight = inFlight
    }

    mutating func adopt(_ spec: ModelSpec, reservationDevice: DeviceID?) {
        priority = spec.priority
        qos = spec.qos
        pinned = spec.pinned
        exclusiveGroup = spec.exclusiveGroup
        reservedHere = reservationDevice == device ? spec.reservedWhileUnloaded : 0
    }
}

/// Policy-wide settings (`policy:` in the config).
public struct PolicyOptions: Sendable, Hashable {
    /// Whether a request may evict models of a higher tier than its own.
    public enum UpwardEviction: String, Sendable, Hashable, CaseIterable {
        /// Only when lower and same tiers cannot make room and waiting would not help.
        case lastResort = "last_resort"
        case never
    }

    public var upwardEviction: UpwardEviction
    /// A just-loaded model is safe from same-or-lower tiers this long, so two requesters
    /// cannot evict each other's model before either is served.
    public var minResidency: Duration

    public init(upwardEviction: UpwardEviction = .lastResort, minResidency: Duration = .seconds(5)) {
        self.upwardEviction = upwardEviction
        self.minResidency = minResidency
    }
}

/// Why a ledger update was refused.
public enum LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownModel(ModelID)
    case unknownDevice(DeviceID)
    case notResident(ModelID)
    case alreadyResident(ModelID, on: DeviceID)

    public var description: String {
        switch self {
        case .unknownModel(let m): "unknown model '\(m)'"
        case .unknownDevice(let d): "unknown device '\(d)'"
        case .notResident(let m): "model '\(m)' is not resident"
        case .alreadyResident(let m, let d): "model '\(m)' is already resident on '\(d)'"
        }
    }
}

/// The resident models of every device, the configured models, and the reservations of the
/// QoS models that are not resident. A value type: planning never changes it; callers apply
/// the outcome they carried out with the mutating methods.
public struct Ledger: Sendable {
    public private(set) var devices: [DeviceState]
    public private(set) var models: [ModelID: ModelSpec]
    public var options: PolicyOptions
    private var deviceIndex: [DeviceID: Int]
    /// Where each resident model is, so lookups never scan devices.
    private var residentDevice: [ModelID: Int] = [:]

    public init(devices: [DeviceSpec], models: [ModelSpec], options: PolicyOptions = PolicyOptions()) {
        self.devices = devices.map { DeviceState(spec: $0) }
        self.options = options
        self.models = Dictionary(models.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.deviceIndex = Dictionary(devices.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        recomputeReservations()
    }

    // MARK: Queries

    public func device(_ id: DeviceID) -> DeviceState? { deviceIndex[id].map { devices[$0] } }
    public func model(_ id: ModelID) -> ModelSpec? { models[id] }

    public func resident(_ id: ModelID) -> ResidentModel? {
        guard let index = residentDevice[id] else { return nil }
        return devices[index].residents[id]
    }

    /// All resident models, device by device, least recently used first.
    public var residents: [ResidentModel] {
        devices.flatMap { $0.residents.values.sorted(by: ResidentModel.lruOrder) }
    }

    /// The device whose memory holds a model's reservation while it is not resident: its own
    /// `device`, or the only device when there is one. Config validation refuses reservations
    /// that would be ambiguous, so the fallback to the first device is never a guess in practice.
    public func reservationDevice(for spec: ModelSpec) -> DeviceID? {
        guard spec.reservedWhileUnloaded > 0 else { return nil }
        if let device = spec.device { return device }
        return devices.first?.id
    }

    /// Rule 6: what a device can give `target` without evicting anything:
    /// capacity − cushion − foreign − resident − reservations of others.
    public func freeForPlanning(on device: DeviceID, for target: ModelID? = nil) -> Int64 {
        guard let state = self.device(device) else { return 0 }
        return capacityForPlanning(on: state, for: target) - state.residentBytes
    }

    /// capacity − cushion − foreign − reservations of models other than `target`: the most the
    /// device could ever give `target` if every resident model left.
    func capacityForPlanning(on state: DeviceState, for target: ModelID?) -> Int64 {
        var reserved = state.reservedBytes
        if let target, let spec = models[target], residentDevice[target] == nil,
           reservationDevice(for: spec) == state.id {
            reserved -= spec.reservedWhileUnloaded
        }
        return state.spec.capacity - state.spec.cushion - state.foreign - reserved
    }

    // MARK: Updates

    public mutating func setForeign(_ bytes: Int64, on device: DeviceID) throws {
        guard let index = deviceIndex[device] else { throw LedgerError.unknownDevice(device) }
        devices[index].foreign = max(0, bytes)
    }

    public mutating func setCapacity(_ bytes: Int64, on device: DeviceID) throws {
        guard let index = deviceIndex[device] else { throw LedgerError.unknownDevice(device) }
        devices[index].spec.capacity = bytes
    }

    /// Records that `model` is now resident on `device`, occupying `bytes` (its spec's memory
    /// when not given).
    public mutating func markLoaded(_ model: ModelID, on device: DeviceID, bytes: Int64? = nil, at now: Instant) throws {
        guard let spec = models[model] else { throw LedgerError.unknownModel(model) }
        guard let index = deviceIndex[device] else { throw LedgerError.unknownDevice(device) }
        if let current = residentDevice[model] { throw LedgerError.alreadyResident(model, on: devices[current].id) }
        var entry = ResidentModel(id: model, device: device, bytes: bytes ?? spec.memory, loadedAt: now, lastUsed: now)
        entry.adopt(spec, reservationDevice: reservationDevice(for: spec))
        devices[index].put(entry)
        residentDevice[model] = index
        adjustReservation(of: spec, by: -1)
    }

    public mutating func markUnloaded(_ model: ModelID) throws {
        guard let index = residentDevice[model], let entry = devices[index].residents[model] else {
            throw LedgerError.notResident(model)
        }
        devices[index].remove(entry.id)
        residentDevice[model] = nil
        if let spec = models[model] { adjustReservation(of: spec, by: 1) }
    }

    /// Marks a resident model as used now (LRU order and keep-alive both start from here).
    public mutating func touch(_ model: ModelID, at now: Instant) throws {
        try updateResident(model) { $0.lastUsed = max($0.lastUsed, now) }
    }

    /// `model`'s backend is ready: its minimum residency counts from now, not from when its load
    /// began (a load of seconds would otherwise spend the residency before the model served).
    public mutating func markReady(_ model: ModelID, at now: Instant) throws {
        try updateResident(model) { $0.loadedAt = now }
    }

    /// A request starts on `model`: it may not be evicted until the request ends.
    public mutating func beginRequest(_ model: ModelID, at now: Instant) throws {
        try updateResident(model) {
            $0.inFlight += 1
            $0.lastUsed = max($0.lastUsed, now)
        }
    }

    /// Marks a resident model contended (see ``ResidentModel/contended``) until it is unloaded.
    public mutating func markContended(_ model: ModelID) throws {
        try updateResident(model) { $0.contended = true }
    }

    public mutating func endRequest(_ model: ModelID, at now: Instant) throws {
        try updateResident(model) {
            $0.inFlight = max(0, $0.inFlight - 1)
            $0.lastUsed = max($0.lastUsed, now)
        }
    }

    /// Replaces a model's footprint (a measurement, or a new estimate); a resident model's
    /// counted bytes change with it.
    public mutating func updateFootprint(_ model: ModelID, bytes: Int64) throws {
        guard var spec = models[model] else { throw LedgerError.unknownModel(model) }
        let resident = residentDevice[model] != nil
        if !resident { adjustReservation(of: spec, by: -1) }
        spec.memory = bytes
        models[model] = spec
        if !resident { adjustReservation(of: spec, by: 1) }
        refreshResident(model, bytes: bytes)
    }

    /// Adds a model, or replaces its spec (callers that learn their models as they go, like
    /// ``ModelCache``). A resident model keeps its counted bytes until ``updateFootprint(_:bytes:)``.
    public mutating func register(_ spec: ModelSpec) {
        let resident = residentDevice[spec.id] != nil
        if let old = models[spec.id], !resident { adjustReservation(of: old, by: -1) }
        models[spec.id] = spec
        if !resident { adjustReservation(of: spec, by: 1) }
        refreshResident(spec.id)
    }

    /// Replaces the configured models (a config reload). Residents whose model was removed stay
    /// in the ledger until they are unloaded, so memory is never counted as free too early.
    public mutating func replaceModels(_ specs: [ModelSpec]) {
        var updated = Dictionary(specs.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        for (id, old) in models where updated[id] == nil && residentDevice[id] != nil {
            updated[id] = old
        }
        models = updated
        recomputeReservations()
        for id in residentDevice.keys { refreshResident(id) }
    }

    /// Carries out a load plan in the ledger: the victims leave, the target arrives.
    public mutating func apply(_ plan: LoadPlan, at now: Instant) throws {
        for victim in plan.evictions { try markUnloaded(victim.model) }
        try markLoaded(plan.model, on: plan.device, at: now)
    }

    private mutating func updateResident(_ model: ModelID, _ change: (inout ResidentModel) -> Void) throws {
        // With one device (the usual box), a resident is on it: the device's own lookup says
        // whether it is, and every request's begin and end skip a hash of the name.
        let index = devices.count == 1 ? 0 : residentDevice[model]
        guard let index, devices[index].update(model, change) else {
            throw LedgerError.notResident(model)
        }
    }

    /// A resident's entry brought in line with its spec, and given `bytes` when they are known
    /// (a spec alone leaves its counted bytes as they were), in one update.
    private mutating func refreshResident(_ model: ModelID, bytes: Int64? = nil) {
        guard let index = residentDevice[model], let spec = models[model] else { return }
        let reservation = reservationDevice(for: spec)
        _ = devices[index].update(model) {
            $0.adopt(spec, reservationDevice: reservation)
            if let bytes { $0.bytes = bytes }
        }
    }

    private mutating func adjustReservation(of spec: ModelSpec, by sign: Int64) {
        guard let device = reservationDevice(for: spec), let index = deviceIndex[device] else { return }
        devices[index].reservedBytes += sign * spec.reservedWhileUnloaded
    }

    private mutating func recomputeReservations() {
        for index in devices.indices { devices[index].reservedBytes = 0 }
        for spec in models.values where residentDevice[spec.id] == nil {
            adjustReservation(of: spec, by: 1)
        }
    }
}

extension ResidentModel {
    /// Least recently used first; ties broken by load time, then name, so plans are deterministic.
    public static func lruOrder(_ a: ResidentModel, _ b: ResidentModel) -> Bool {
        if a.lastUsed != b.lastUsed { return a.lastUsed < b.lastUsed }
        if a.loadedAt != b.loadedAt { return a.loadedAt < b.loadedAt }
        return a.id < b.id
    }
}
