enum GGUFBenchmark {
    static func run(arguments: [String]) throws {}
}
