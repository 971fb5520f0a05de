import VRAMPolicy

/// A what-if state for `vramd plan`: which models are resident where, which are busy, how long
/// ago some were loaded and how much memory others hold, built on a config.
public struct PlanScenario: Sendable {
    public var config: Config
    /// Resident models from least to most recently used, each with an optional device.
    public var residents: [(model: ModelID, device: DeviceID?)] = []
    public var busy: Set<ModelID> = []
    /// Models other requests compete for (``ResidentModel/contended``): only these are kept by
    /// the minimum residency.
    public var contended: Set<ModelID> = []
    public var loadedAgo: [ModelID: Duration] = [:]
    public var foreign: [DeviceID: Int64] = [:]
    /// Capacities for devices whose config gives none (host and nvidia devices).
    public var capacities: [DeviceID: Int64] = [:]

    public init(config: Config) { self.config = config }

    /// The instant the scenario is planned at; resident models were used just before it.
    public static let now = Instant.seconds(1_000_000)

    /// Parses `a,b@gpu0` into residents.
    public static func parseResidents(_ text: String) -> [(model: ModelID, device: DeviceID?)] {
        text.split(separator: ",").map { item in
            let parts = item.split(separator: "@", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return (ModelID(parts[0]), parts.count > 1 ? DeviceID(parts[1]) : nil)
        }
    }

    /// Builds the ledger this scenario describes.
    ///
    /// - Parameter footprint: the bytes counted for a model (its declared size, or an estimate).
    /// - Throws: ``PlanScenarioError`` naming the model or device that does not make sense.
    public func ledger(footprint: (ModelConfig) throws -> Int64) throws -> Ledger {
        var devices: [DeviceSpec] = []
        for device in config.devices {
            guard let capacity = capacities[device.id] ?? device.capacity else {
                throw PlanScenarioError("device '\(device.id)' (\(device.kind.rawValue)) has no capacity in the config; pass --capacity \(device.id)=SIZE")
            }
            devices.append(DeviceSpec(id: device.id, capacity: capacity, cushion: device.cushion))
        }
        let specs = try config.models.map { try $0.spec(memory: footprint($0)) }
        var ledger = Ledger(devices: devices, models: specs, options: config.policy)
        for (device, bytes) in foreign {
            guard config.device(device) != nil else { throw PlanScenarioError("--foreign names unknown device '\(device)'") }
            try ledger.setForeign(bytes, on: device)
        }
        for (position, entry) in residents.enumerated() {
            guard let model = config.model(entry.model) else {
                throw PlanScenarioError("--resident names unknown model '\(entry.model)'")
            }
            guard let device = entry.device ?? model.device ?? config.devices.first?.id, config.device(device) != nil else {
                throw PlanScenarioError("--resident places '\(entry.model)' on unknown device '\(entry.device ?? "")'")
            }
            // Least recently used first: each later entry was used a little later.
            let lastUsed = Self.now.advanced(by: .milliseconds(-(residents.count - position)))
            let loadedAt = loadedAgo[entry.model].map { Self.now.advanced(by: .zero - $0) } ?? .zero
            do {
                try ledger.markLoaded(entry.model, on: device, at: loadedAt)
            } catch {
                throw PlanScenarioError("--resident: \(error)")
            }
            try ledger.touch(entry.model, at: lastUsed)
        }
        for model in busy {
            guard ledger.resident(model) != nil else { throw PlanScenarioError("--busy names '\(model)', which is not resident") }
            try ledger.beginRequest(model, at: ledger.resident(model)!.lastUsed)
        }
        for model in contended {
            guard ledger.resident(model) != nil else { throw PlanScenarioError("--contended names '\(model)', which is not resident") }
            try ledger.markContended(model)
        }
        for model in loadedAgo.keys where ledger.resident(model) == nil {
            throw PlanScenarioError("--loaded-ago names '\(model)', which is not resident")
        }
        return ledger
    }
}

public struct PlanScenarioError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The machine-readable answer of `vramd plan --json`.
public struct PlanReport: Codable, Sendable, Hashable {
    public struct Victim: Codable, Sendable, Hashable {
        public var model: String
        public var device: String
        public var bytes: Int64
        public var freed: Int64
        public var priority: Int
        public var rule: String
    }

    public struct Waiting: Codable, Sendable, Hashable {
        public var model: String
        public var reason: String
    }

    public var decision: String
    public var model: String
    public var device: String?
    public var evict: [String]
    public var freeBefore: Int64?
    public var freeAfter: Int64?
    public var reason: String
    public var evictions: [Victim]
    public var waitingFor: [Waiting]
    public var retryable: Bool

    enum CodingKeys: String, CodingKey {
        case decision, model, device, evict, reason, evictions, retryable
        case freeBefore = "free_before", freeAfter = "free_after", waitingFor = "waiting_for"
    }

    /// The exit status of `vramd plan`: 0 load or resident, 3 wait, 4 reject.
    public var exitCode: Int32 {
        switch decision {
        case "wait": 3
        case "reject": 4
        default: 0
        }
    }

    public init(_ decision: PlanDecision, ledger: Ledger) {
        model = decision.model.rawValue
        reason = decision.description
        evict = []
        evictions = []
        waitingFor = []
        retryable = false
        switch decision {
        case .resident(_, let device):
            self.decision = "resident"
            self.device = device.rawValue
            freeBefore = ledger.freeForPlanning(on: device)
            freeAfter = freeBefore
        case .load(let plan):
            self.decision = "load"
            device = plan.device.rawValue
            evict = plan.evictions.map(\.model.rawValue)
            evictions = plan.evictions.map {
                Victim(model: $0.model.rawValue, device: $0.device.rawValue, bytes: $0.bytes, freed: $0.freed,
                       priority: $0.priority, rule: $0.reason.rule)
            }
            freeBefore = plan.freeBefore
            freeAfter = plan.freeAfter
        case .wait(let plan):
            self.decision = "wait"
            device = plan.device.rawValue
            freeBefore = plan.freeBefore
            freeAfter = nil
            waitingFor = plan.waitingFor.map { Waiting(model: $0.model.rawValue, reason: $0.description) }
            retryable = true
        case .reject(let rejection):
            self.decision = "reject"
            retryable = rejection.retryable
            switch rejection.reason {
            case .neverFits(let device, _, _), .blockedByProtected(let device, _, _, _):
                self.device = device.rawValue
                freeBefore = ledger.freeForPlanning(on: device, for: rejection.model)
            default:
                device = nil
                freeBefore = nil
            }
            freeAfter = nil
        }
    }
}
