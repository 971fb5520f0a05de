import Foundation
import VRAMConfig

extension ModelConfig {
    /// `--alias ID` for a llama-server command that names no alias itself: llama-server names
    /// the model in every answer by its alias, and without one by its GGUF file's path, which
    /// tells a client where the weights sit and not which model answered. Other servers may not
    /// know the flag, so only a command whose program is `llama-server` gets it; an alias given
    /// through llama-server's `LLAMA_ARG_ALIAS` (in `env`, or vramd's own environment, which the
    /// child inherits) is left alone, as the flag would override it.
    func defaultAliasArguments(inherited: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        guard case .process(let process)? = backend, let program = process.command.first,
              program.split(separator: "/").last == "llama-server",
              !process.command.contains(where: { $0 == "-a" || $0 == "--alias" || $0.hasPrefix("--alias=") }),
              process.environment["LLAMA_ARG_ALIAS"] == nil, inherited["LLAMA_ARG_ALIAS"] == nil
        else { return [] }
        return ["--alias", id.rawValue]
    }
}
