import Testing
@testable import VRAMPolicy

let GB: Int64 = 1 << 30

/// Builds a ledger and loads models one after another, ten seconds apart so none is inside its
/// minimum residency unless a test says so.
struct Scenario {
    var ledger: Ledger
    var now = Instant.seconds(1000)

    init(capacity: Int64 = 16 * GB, cushion: Int64 = 0, devices: [DeviceSpec]? = nil,
         models: [ModelSpec], options: PolicyOptions = PolicyOptions()) {
        ledger = Ledger(devices: devices ?? [DeviceSpec(id: "gpu0", capacity: capacity, cushion: cushion)],
                        models: models, options: options)
    }

    /// Plans and applies a load that must succeed; returns the victims.
    @discardableResult
    mutating func load(_ model: ModelID, sourceLocation: SourceLocation = #_sourceLocation) throws -> [ModelID] {
        now = now.advanced(by: .seconds(10))
        let decision = ledger.plan(load: model, at: now)
        switch decision {
        case .load(let plan):
            try ledger.apply(plan, at: now)
            return plan.evictions.map(\.model)
        case .resident:
            return []
        default:
            Issue.record("expected a load of \(model), got \(decision)", sourceLocation: sourceLocation)
            return []
        }
    }

    func plan(_ model: ModelID) -> PlanDecision { ledger.plan(load: model, at: now.advanced(by: .seconds(10))) }
    func isLoaded(_ model: ModelID) -> Bool { ledger.resident(model) != nil }
    func free(_ device: DeviceID = "gpu0") -> Int64 { ledger.freeForPlanning(on: device) }
}

/// The cast of seeds 000/001: ASR outranks TTS outranks LLM on a 16 GB card.
let seedCast: [ModelSpec] = [
    ModelSpec(id: "cohere-transcribe", kind: .stt, memory: 4 * GB),
    ModelSpec(id: "chatterbox-multilingual", kind: .tts, memory: 2 * GB),
    ModelSpec(id: "chatterbox", kind: .tts, memory: 2 * GB),
    ModelSpec(id: "chatterbox-ml", kind: .tts, memory: 2 * GB),
    ModelSpec(id: "qwen3.5-4b", kind: .llm, memory: 4 * GB),
    ModelSpec(id: "qwen3.5-9b-fp8", kind: .llm, memory: 9 * GB),
    ModelSpec(id: "large-llm", kind: .llm, memory: 12 * GB),
    ModelSpec(id: "gpt-oss-20b", kind: .llm, memory: 13 * GB),
]

extension PlanDecision {
    var loadPlan: LoadPlan? { if case .load(let p) = self { p } else { nil } }
    var waitPlan: WaitPlan? { if case .wait(let p) = self { p } else { nil } }
    var rejection: Rejection? { if case .reject(let r) = self { r } else { nil } }
}

typealias SeededGenerator = SplitMix64
