/// The name of a configured model, as it appears under `models:` in the config.
public struct ModelID: ConfiguredName {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The name of a configured device (`devices[].id`).
public struct DeviceID: ConfiguredName {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
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
