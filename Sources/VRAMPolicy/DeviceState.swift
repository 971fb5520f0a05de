/// The state of one device: what it holds and what it must keep free.
public struct DeviceState: Sendable, Hashable {
    public var spec: DeviceSpec
    /// Memory used by processes vramd did not start.
    public var foreign: Int64 = 0
    public private(set) var residents: [ModelID: ResidentModel] = [:]
    /// Sum of `residents[*].bytes`, kept so the no-eviction path never scans residents.
    public private(set) var residentBytes: Int64 = 0
    /// Sum of the reservations of models placed here that are not resident.
    public internal(set) var reservedBytes: Int64 = 0

    /// The residents again as plain numbers in one array: planning scans every resident of a
    /// device, and copying `ResidentModel`s (with their strings) out of a dictionary cost more
    /// than the rules themselves.
    private(set) var facts: [ResidencyFacts] = []
    private(set) var factIDs: [ModelID] = []
    private var factPosition: [ModelID: Int] = [:]

    public init(spec: DeviceSpec) { self.spec = spec }

    public var id: DeviceID { spec.id }

    /// What the ledger counts as used: residents, reservations, foreign memory and the cushion.
    public var plannedUse: Int64 { residentBytes + reservedBytes + foreign + spec.cushion }

    /// Adds or replaces a resident, keeping the sums and the facts in step.
    mutating func put(_ entry: ResidentModel) {
        residentBytes += entry.bytes - (residents[entry.id]?.bytes ?? 0)
        residents[entry.id] = entry
        if let position = factPosition[entry.id] {
            facts[position] = ResidencyFacts(entry)
        } else {
            factPosition[entry.id] = facts.count
            facts.append(ResidencyFacts(entry))
            factIDs.append(entry.id)
        }
    }

    /// Changes a resident in place, keeping the sums and the facts in step; false when `model`
    /// is not resident here. Every request begins and ends with one: taking the entry out and
    /// putting it back copied it twice, and so did reading it through the dictionary's values
    /// before and after the change, so it is reached once, in place.
    mutating func update(_ model: ModelID, _ change: (inout ResidentModel) -> Void) -> Bool {
        guard let index = residents.index(forKey: model), let position = factPosition[model] else { return false }
        let (grown, fact) = Self.apply(change, to: &residents.values[index])
        residentBytes += grown
        facts[position] = fact
        return true
    }

    /// `change` applied to `entry`: how many bytes it grew by, and its facts after.
    private static func apply(_ change: (inout ResidentModel) -> Void, to entry: inout ResidentModel) -> (Int64, ResidencyFacts) {
        let before = entry.bytes
        change(&entry)
        return (entry.bytes - before, ResidencyFacts(entry))
    }

    mutating func remove(_ model: ModelID) {
        guard let entry = residents.removeValue(forKey: model), let position = factPosition.removeValue(forKey: model) else { return }
        residentBytes -= entry.bytes
        let last = facts.count - 1
        if position != last {
            facts[position] = facts[last]
            factIDs[position] = factIDs[last]
            factPosition[factIDs[position]] = position
        }
        facts.removeLast()
        factIDs.removeLast()
    }

    public static func == (a: DeviceState, b: DeviceState) -> Bool {
        a.spec == b.spec && a.foreign == b.foreign && a.residents == b.residents && a.reservedBytes == b.reservedBytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(spec)
        hasher.combine(foreign)
        hasher.combine(residents)
        hasher.combine(reservedBytes)
    }
}

/// The numbers of a resident that the rules read, without its names.
struct ResidencyFacts: Sendable {
    var priority: Int
    var rank: Int
    var qos: QoS
    var pinned: Bool
    var inFlight: Int
    var loadedAt: Instant
    var lastUsed: Instant
    var bytes: Int64
    /// What evicting it gives back: its bytes less the reservation it keeps on this device.
    var freed: Int64

    init(_ resident: ResidentModel) {
        priority = resident.priority
        rank = resident.qos == .bestEffort ? -1 : resident.priority
        qos = resident.qos
        pinned = resident.pinned
        inFlight = resident.inFlight
        loadedAt = resident.loadedAt
        lastUsed = resident.lastUsed
        bytes = resident.bytes
        freed = resident.bytes - resident.reservedHere
    }
}
