/// The state of one device: what it holds and what it must keep free.
public struct DeviceState: Sendable, Hashable {
    public var spec: DeviceSpec
    /// Memory used by processes vramd did not start.
    public var foreign: Int64 = 0
    /// The residents, by model.
    public var residents: Residents { Residents(entries: entries, positions: positions) }
    /// Sum of `residents[*].bytes`, kept so the no-eviction path never scans residents.
    public private(set) var residentBytes: Int64 = 0
    /// Sum of the reservations of models placed here that are not resident.
    public internal(set) var reservedBytes: Int64 = 0

    // The residents in one array and their facts, the plain numbers of each, in a second at the
    // same positions: planning scans every resident of a device, and copying `ResidentModel`s
    // (with their strings) cost more than the rules themselves. One table of positions serves
    // both, so a request's begin and end look its model up once here (two tables took two).
    private var entries: [ResidentModel] = []
    private(set) var facts: [ResidencyFacts] = []
    private var positions: [ModelID: Int] = [:]

    public init(spec: DeviceSpec) { self.spec = spec }

    public var id: DeviceID { spec.id }

    /// What the ledger counts as used: residents, reservations, foreign memory and the cushion.
    public var plannedUse: Int64 { residentBytes + reservedBytes + foreign + spec.cushion }

    /// The resident at a position of ``facts``.
    func resident(at position: Int) -> ResidentModel { entries[position] }

    /// The model at a position of ``facts``.
    func model(at position: Int) -> ModelID { entries[position].id }

    /// Adds or replaces a resident, keeping the sums and the facts in step.
    mutating func put(_ entry: ResidentModel) {
        if let position = positions[entry.id] {
            residentBytes += entry.bytes - entries[position].bytes
            entries[position] = entry
            facts[position] = ResidencyFacts(entry)
        } else {
            residentBytes += entry.bytes
            positions[entry.id] = entries.count
            entries.append(entry)
            facts.append(ResidencyFacts(entry))
        }
    }

    /// Changes a resident in place, keeping the sums and the facts in step; false when `model`
    /// is not resident here. Every request begins and ends with one: taking the entry out and
    /// putting it back copied it twice, so it is changed where it lies.
    mutating func update(_ model: ModelID, _ change: (inout ResidentModel) -> Void) -> Bool {
        guard let position = positions[model] else { return false }
        let before = entries[position].bytes
        change(&entries[position])
        residentBytes += entries[position].bytes - before
        facts[position] = ResidencyFacts(entries[position])
        return true
    }

    mutating func remove(_ model: ModelID) {
        guard let position = positions.removeValue(forKey: model) else { return }
        residentBytes -= entries[position].bytes
        // The last resident takes the removed one's place, so no other moves.
        let last = entries.count - 1
        if position != last {
            entries[position] = entries[last]
            facts[position] = facts[last]
            positions[entries[position].id] = position
        }
        entries.removeLast()
        facts.removeLast()
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

extension DeviceState {
    /// A device's residents, looked up by model; their order is the ledger's own and means
    /// nothing (``Ledger/residents`` sorts them least recently used first).
    public struct Residents: Sendable, Hashable {
        fileprivate let entries: [ResidentModel]
        fileprivate let positions: [ModelID: Int]

        public subscript(model: ModelID) -> ResidentModel? { positions[model].map { entries[$0] } }
        public var values: [ResidentModel] { entries }
        public var count: Int { entries.count }
        public var isEmpty: Bool { entries.isEmpty }

        /// The same residents, whatever their order.
        public static func == (a: Residents, b: Residents) -> Bool {
            a.entries.count == b.entries.count && a.entries.allSatisfy { b[$0.id] == $0 }
        }

        public func hash(into hasher: inout Hasher) {
            // A sum of the entries' own hashes does not depend on their order, as `==` does not.
            hasher.combine(entries.count)
            hasher.combine(entries.reduce(0) { $0 &+ $1.hashValue })
        }
    }
}

/// The numbers of a resident that the rules read, without its names.
struct ResidencyFacts: Sendable {
    var priority: Int
    var rank: Int
    var qos: QoS
    var pinned: Bool
    var inFlight: Int
    var contended: Bool
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
        contended = resident.contended
        loadedAt = resident.loadedAt
        lastUsed = resident.lastUsed
        bytes = resident.bytes
        freed = resident.bytes - resident.reservedHere
    }
}
