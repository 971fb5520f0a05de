import ArgumentParser
import Foundation
import VRAMConfig
import VRAMPolicy

extension VRAMD {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the planner on a what-if state and print its decision.",
            discussion: "Exit status: 0 load or already resident, 3 wait, 4 reject, 1 bad config or state."
        )

        @Option(help: "The YAML config file.")
        var config: String

        @Option(help: "Resident models, least recently used first: a,b@gpu0 (without @, the model's device, else the first).")
        var resident: String = ""

        @Option(help: "Models with requests in flight: a,b.")
        var busy: String = ""

        @Option(help: "Models whose requests compete with other models' (only these are kept by min_residency): a,b.")
        var contended: String = ""

        @Option(help: "The model to load.")
        var load: String

        @Option(name: .customLong("loaded-ago"), help: "How long ago a resident model was loaded: ID=DURATION (default: long ago). Repeatable.")
        var loadedAgo: [String] = []

        @Option(help: "Memory held by others on a device: DEVICE=SIZE. Repeatable.")
        var foreign: [String] = []

        @Option(help: "Capacity of a device whose config gives none: DEVICE=SIZE. Repeatable.")
        var capacity: [String] = []

        @Flag(help: "Print the decision as JSON.")
        var json = false

        func validate() throws {
            for item in loadedAgo where Self.pair(item, DurationText.parse) == nil {
                throw ValidationError("--loaded-ago wants ID=DURATION like llm=2s, got '\(item)'")
            }
            for item in foreign + capacity where Self.pair(item, ByteSize.parse) == nil {
                throw ValidationError("--foreign and --capacity want DEVICE=SIZE like gpu0=1GiB, got '\(item)'")
            }
        }

        static func pair<T>(_ text: String, _ parse: (String) -> T?) -> (String, T)? {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let value = parse(parts[1]) else { return nil }
            return (parts[0], value)
        }

        func run() throws {
            let loaded = try loadConfigOrExit(config)
            var scenario = PlanScenario(config: loaded)
            scenario.residents = resident.isEmpty ? [] : PlanScenario.parseResidents(resident)
            scenario.busy = Set(busy.split(separator: ",").map { ModelID(String($0)) })
            scenario.contended = Set(contended.split(separator: ",").map { ModelID(String($0)) })
            for item in loadedAgo { if let (id, ago) = Self.pair(item, DurationText.parse) { scenario.loadedAgo[ModelID(id)] = ago } }
            for item in foreign { if let (id, bytes) = Self.pair(item, ByteSize.parse) { scenario.foreign[DeviceID(id)] = bytes } }
            for item in capacity { if let (id, bytes) = Self.pair(item, ByteSize.parse) { scenario.capacities[DeviceID(id)] = bytes } }

            let ledger: Ledger
            do {
                ledger = try scenario.ledger(footprint: Footprints.resolver(for: loaded))
            } catch {
                printError("vramd plan: \(error)")
                throw ExitCode(1)
            }
            let decision = ledger.plan(load: ModelID(load), at: PlanScenario.now)
            let report = PlanReport(decision, ledger: ledger)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                printHuman(report)
            }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }

        private func printHuman(_ report: PlanReport) {
            print("\(report.decision): \(report.reason)")
            for victim in report.evictions {
                print("  evict \(victim.model) on \(victim.device): \(ByteSize.format(victim.bytes)), priority \(victim.priority), rule \(victim.rule)")
            }
            for waiting in report.waitingFor { print("  waiting for \(waiting.reason)") }
            if let before = report.freeBefore { print("  free before: \(ByteSize.format(before))") }
            if let after = report.freeAfter { print("  free after:  \(ByteSize.format(after))") }
        }
    }
}
