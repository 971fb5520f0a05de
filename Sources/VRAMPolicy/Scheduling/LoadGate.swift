/// Which loads may run at once.
///
/// A load holds every device its plan touches until the victims' memory is really back and the
/// target is loaded, so no other plan counts on memory a victim still occupies. A load of an
/// exclusive-group member also holds its group: another member, even on another device, must not
/// start loading before this one is counted.
public struct LoadGate: Sendable, Hashable {
    public private(set) var devices: Set<DeviceID> = []
    public private(set) var groups: Set<String> = []

    public init() {}

    /// Whether a load of `plan` for a member of `group` may start now.
    public func mayStart(_ plan: LoadPlan, group: String?) -> Bool {
        if let group, groups.contains(group) { return false }
        return devices.isDisjoint(with: Self.devices(of: plan))
    }

    public mutating func begin(_ plan: LoadPlan, group: String?) {
        devices.formUnion(Self.devices(of: plan))
        if let group { groups.insert(group) }
    }

    public mutating func end(_ plan: LoadPlan, group: String?) {
        devices.subtract(Self.devices(of: plan))
        if let group { groups.remove(group) }
    }

    static func devices(of plan: LoadPlan) -> Set<DeviceID> {
        Set([plan.device] + plan.evictions.map(\.device))
    }
}
