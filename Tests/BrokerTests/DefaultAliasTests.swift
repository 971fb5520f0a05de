@testable import Broker
import Testing
import VRAMConfig

/// Which process commands get `--alias ID` from vramd: llama-server's, unless an alias is given
/// already, on the command line or through `LLAMA_ARG_ALIAS`.
@Suite struct DefaultAliasTests {
    static func model(_ command: String, env: String = "") throws -> ModelConfig {
        let yaml = """
            models:
              gemma:
                kind: llm
                memory: 1GiB
                backend: {type: process, command: \(command)\(env.isEmpty ? "" : ", env: {\(env)}")}
            """
        return try #require(try Config.parse(yaml: yaml, file: "/etc/vramd/vramd.yaml").models.first)
    }

    @Test func llamaServerWithoutAnAliasGetsTheModelsId() throws {
        let bare = try Self.model(#"[/opt/llama/llama-server, -m, g.gguf, --port, "${PORT}"]"#)
        #expect(bare.defaultAliasArguments(inherited: [:]) == ["--alias", "gemma"])
        let onPath = try Self.model(#"[llama-server, -m, g.gguf]"#)
        #expect(onPath.defaultAliasArguments(inherited: [:]) == ["--alias", "gemma"])
    }

    @Test(arguments: [
        #"[llama-server, -m, g.gguf, -a, chat]"#,
        #"[llama-server, -m, g.gguf, --alias, chat]"#,
        #"[llama-server, -m, g.gguf, "--alias=chat"]"#,
    ])
    func anAliasOnTheCommandLineIsKept(command: String) throws {
        #expect(try Self.model(command).defaultAliasArguments(inherited: [:]).isEmpty)
    }

    @Test func anAliasFromTheEnvironmentIsKept() throws {
        let configured = try Self.model(#"[llama-server, -m, g.gguf]"#, env: "LLAMA_ARG_ALIAS: chat")
        #expect(configured.defaultAliasArguments(inherited: [:]).isEmpty)
        let inherited = try Self.model(#"[llama-server, -m, g.gguf]"#)
        #expect(inherited.defaultAliasArguments(inherited: ["LLAMA_ARG_ALIAS": "chat"]).isEmpty)
    }

    @Test func otherProgramsAreLeftAlone() throws {
        #expect(try Self.model(#"[sd-server, -m, model.gguf]"#).defaultAliasArguments(inherited: [:]).isEmpty)
        #expect(try Self.model(#"[sh, -c, "exec llama-server -m g.gguf"]"#).defaultAliasArguments(inherited: [:]).isEmpty)
        #expect(try Self.model(#"[/opt/llama-server-wrapper, -m, g.gguf]"#).defaultAliasArguments(inherited: [:]).isEmpty)
    }
}
