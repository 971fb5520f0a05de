import Foundation
import Testing

/// Two vramd nodes behind a picker that scores them from their `/metrics` as the Gateway API
/// Inference Extension's lora-affinity scorer does (the picker is test code standing in for the
/// endpoint picker): requests go where their model is resident, and a mixed sequence causes
/// fewer loads than round-robin.
struct ClusterAffinityTests {
    struct Run: Decodable {
        var loads: Int
        var routed: [Int]
        var statuses: [Int]
        var hits: Int
        var residents: [[String]]
    }

    @Test(.timeLimit(.minutes(5)))
    func theAffinityPickerSendsRequestsWhereTheirModelIsResident() throws {
        guard let env = ServeEndToEndTests.environment() else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/cluster_affinity.py").path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("vramd-cluster-\(UUID().uuidString)").path
        let result = try CommandRunner.run(executable: URL(fileURLWithPath: env.python),
                                           [script, CommandRunner.binary.path, env.server, env.model, work])
        try #require(result.status == 0, "the script failed:\n\(result.stderr)")
        let runs = try JSONDecoder().decode([String: Run].self, from: Data(result.stdout.utf8))
        let affinity = try #require(runs["affinity"]), roundRobin = try #require(runs["round_robin"])
        #expect((affinity.statuses + roundRobin.statuses).allSatisfy { $0 == 200 })
        // One load per model, each on its own node; every later request finds its model there.
        #expect(affinity.loads == 2, "\(affinity)")
        #expect(affinity.hits == affinity.routed.count - 2, "\(affinity)")
        #expect(Set(affinity.residents.map(Set.init)) == [["gemma-a"], ["gemma-b"]], "\(affinity)")
        #expect(roundRobin.loads > affinity.loads, "round-robin \(roundRobin.loads) loads, affinity \(affinity.loads)")
        print("loads over \(affinity.routed.count) requests: affinity \(affinity.loads), round-robin \(roundRobin.loads)")
    }
}
