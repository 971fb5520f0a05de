enum PlannerBenchmark {
    static func run(arguments: [String]) throws {}
}
