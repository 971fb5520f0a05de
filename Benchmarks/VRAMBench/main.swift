// vramd-bench: the performance checks that scripts/bench runs. Each prints its figures and the
// ratio against a baseline measured in the same run.
let arguments = Array(CommandLine.arguments.dropFirst())
let which = arguments.first ?? "all"
let rest = Array(arguments.dropFirst())

switch which {
case "planner": try PlannerBenchmark.run(arguments: rest)
case "gguf": try GGUFBenchmark.run(arguments: rest)
case "all":
    try PlannerBenchmark.run(arguments: [])
    try GGUFBenchmark.run(arguments: [])
default:
    print("usage: vramd-bench [planner|gguf|all] [options]")
}
