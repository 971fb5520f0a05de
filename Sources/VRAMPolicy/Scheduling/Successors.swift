/// Which model tends to follow which: a voice turn asks for speech-to-text, then chat, then
/// text-to-speech, again and again. Learned from the order requests start in, so the likely
/// next model can be warmed while the current one serves.
public struct Successors: Sendable, Hashable {
    /// How often each model was followed by each other one.
    public private(set) var counts: [ModelID: [ModelID: Int]] = [:]
    private var last: ModelID?

    /// A model is a likely successor once it followed this often, and at least half the time.
    public static let minimumCount = 2

    public init() {}

    /// A request for `model` starts.
    public mutating func started(_ model: ModelID) {
        if let last, last != model { counts[last, default: [:]][model, default: 0] += 1 }
        last = model
    }

    /// The model that usually comes after `model`, if one does.
    public func likelyNext(after model: ModelID) -> ModelID? {
        guard let followers = counts[model] else { return nil }
        let total = followers.values.reduce(0, +)
        guard let (next, count) = followers.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }),
              count >= Self.minimumCount, count * 2 >= total else { return nil }
        return next
    }
}
