/// Seed 003's global GPU lock, per device: on a device with `serialize: true` one request runs at
/// a time, whichever model it is for; other devices take as many as their models allow.
public struct DeviceSlots: Sendable, Hashable {
    public var serialized: Set<DeviceID>
    public private(set) var serving: [DeviceID: Int] = [:]

    public init(serialized: Set<DeviceID>) {
        self.serialized = serialized
    }

    /// Whether a request may start on `device` (`nil`: a model placed nowhere yet).
    public func isFree(_ device: DeviceID?) -> Bool {
        guard let device, serialized.contains(device) else { return true }
        return serving[device, default: 0] == 0
    }

    public mutating func start(on device: DeviceID?) {
        if let device { serving[device, default: 0] += 1 }
    }

    public mutating func end(on device: DeviceID?) {
        guard let device, let count = serving[device] else { return }
        serving[device] = count > 1 ? count - 1 : nil
    }
}
