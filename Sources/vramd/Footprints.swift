import VRAMConfig

/// How the command line turns a model's `memory:` into bytes.
enum Footprints {
    static func resolver(for config: Config) -> (ModelConfig) throws -> Int64 {
        { model in try Footprint.resolve(model, in: config).bytes }
    }
}
