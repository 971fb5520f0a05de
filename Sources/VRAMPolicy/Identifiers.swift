/// The name of a configured model, as it appears under `models:` in the config.
public struct ModelID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    /// The name's hash, taken once. A proxied request finds its model by this ID about eight
    /// times (the runtimes, the ledger, the device's residents), and hashing the name each time
    /// cost about 120 instructions a lookup; an ID is made from a name far less often.
    private let nameHash: Int

    public init(_ rawValue: String) {
        self.rawValue = rawValue
        nameHash = rawValue.hashValue
    }

    public init(stringLiteral value: String) { self.init(value) }
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func == (lhs: ModelID, rhs: ModelID) -> Bool { lhs.nameHash == rhs.nameHash && lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(nameHash) }

    public var description: String { rawValue }
    public static func < (lhs: ModelID, rhs: ModelID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The name of a configured device (`devices[].id`).
public struct DeviceID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    /// The name's hash, taken once, as ``ModelID`` does: every request's start and end find
    /// its device's count of requests in flight by this ID.
    private let nameHash: Int

    public init(_ rawValue: String) {
        self.rawValue = rawValue
        nameHash = rawValue.hashValue
    }

    public init(stringLiteral value: String) { self.init(value) }
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func == (lhs: DeviceID, rhs: DeviceID) -> Bool { lhs.nameHash == rhs.nameHash && lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(nameHash) }

    public var description: String { rawValue }
    public static func < (lhs: DeviceID, rhs: DeviceID) -> Bool { lhs.rawValue < rhs.rawValue }
}
