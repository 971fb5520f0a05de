/// The name of a configured model, as it appears under `models:` in the config.
public struct ModelID: ConfiguredName {
    public let rawValue: String
    /// The name's hash, taken once. A proxied request finds its model by this ID about eight
    /// times (the runtimes, the ledger, the device's residents), and hashing the name each time
    /// cost about 120 instructions a lookup; an ID is made from a name far less often.
    private let nameHash: Int

    public init(_ rawValue: String) { (self.rawValue, nameHash) = (rawValue, rawValue.hashValue) }
    public static func == (lhs: ModelID, rhs: ModelID) -> Bool { lhs.nameHash == rhs.nameHash && lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(nameHash) }
}

/// The name of a configured device (`devices[].id`).
public struct DeviceID: ConfiguredName {
    public let rawValue: String
    /// Taken once, as ``ModelID``'s is: every request's start and end find its device's count of
    /// requests in flight by this ID. (A type shared by the two IDs to hold the name and its
    /// hash made every model lookup about 45 instructions dearer.)
    private let nameHash: Int

    public init(_ rawValue: String) { (self.rawValue, nameHash) = (rawValue, rawValue.hashValue) }
    public static func == (lhs: DeviceID, rhs: DeviceID) -> Bool { lhs.nameHash == rhs.nameHash && lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(nameHash) }
}

/// A name from the config used as a key: written as a string literal, coded as a plain
/// string, ordered and described by its text.
public protocol ConfiguredName: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    init(_ rawValue: String)
    var rawValue: String { get }
}

extension ConfiguredName {
    public init(stringLiteral value: String) { self.init(value) }
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
