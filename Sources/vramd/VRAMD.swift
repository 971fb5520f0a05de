import ArgumentParser
import Dispatch
import Foundation

struct VRAMD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vramd",
        abstract: "A GPU memory broker for local AI models.",
        subcommands: [Serve.self, Status.self, CheckConfig.self, Plan.self, Estimate.self, Inspect.self]
    )
}

@main
enum Entry {
    /// Synchronous, so that the event loops take over Swift concurrency's jobs before the first
    /// one is enqueued (see ``EventLoopExecutor``).
    static func main() {
        EventLoopExecutor.install()
        Task {
            await VRAMD.main()
            exit(0)
        }
        dispatchMain()
    }
}
