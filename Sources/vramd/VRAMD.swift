import ArgumentParser

@main
struct VRAMD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vramd",
        abstract: "A GPU memory broker for local AI models.",
        subcommands: [Serve.self, Status.self, PS.self, Load.self, Stop.self, Logs.self, Reload.self, CheckConfig.self, Plan.self, Estimate.self, Inspect.self]
    )
}
