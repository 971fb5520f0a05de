import VRAMConfig

extension ModelConfig {
    /// The model's GGUF file, where it has one: its `memory: {gguf: …}`, else the `-m`/`--model`
    /// file of its process command. `resolve` makes a config's relative path absolute.
    func ggufPath(resolve: (String) -> String) -> String? {
        if case .gguf(let spec) = memory { return resolve(spec.path) }
        guard case .process(let process)? = backend else { return nil }
        let argv = process.command
        for (index, argument) in argv.enumerated() where ["-m", "--model"].contains(argument) && index + 1 < argv.count {
            if argv[index + 1].hasSuffix(".gguf") { return resolve(argv[index + 1]) }
        }
        return nil
    }

    /// The key its saved prompt caches are filed under (``PromptCache/key(command:ggufPath:)``).
    func promptCacheKey(resolve: (String) -> String) -> String? {
        guard promptCache, case .process(let process)? = backend else { return nil }
        return PromptCache.key(command: process.command, ggufPath: ggufPath(resolve: resolve))
    }
}
