import ArgumentParser

@main
struct VRAMD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vramd",
        abstract: "A GPU memory broker for local AI models.",
        subcommands: [Serve.self, Status.self, CheckConfig.self, Plan.self, Estimate.self, Inspect.self]
    )
}
