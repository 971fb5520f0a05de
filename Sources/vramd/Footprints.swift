import VRAMConfig

/// How the command line turns a model's `memory:` into bytes.
enum Footprints {
    static func resolve(_ model: ModelConfig) throws -> Int64 {
        switch model.memory {
        case .declared(let bytes): return bytes
        case .gguf(let spec): throw PlanScenarioError("model '\(model.id)' is sized from \(spec.path); GGUF estimates are not wired in yet")
        }
    }
}
