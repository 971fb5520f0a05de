import ArgumentParser
import Foundation
import VRAMConfig
import VRAMPolicy

extension VRAMD {
    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate a config file and print a summary (or every error, exit 1)."
        )

        @Argument(help: "The YAML config file.")
        var file: String

        func run() throws {
            let config = try loadConfigOrExit(file)
            var footprints: [ModelID: Footprint] = [:]
            var problems: [ConfigError] = []
            for model in config.models {
                do { footprints[model.id] = try Footprint.resolve(model, in: config) } catch { problems.append(error) }
            }
            if !problems.isEmpty {
                printError(ConfigErrors(problems).description)
                throw ExitCode(1)
            }
            print("\(file): OK")
            print("listen \(config.listen); upward_eviction \(config.policy.upwardEviction.rawValue); min_residency \(DurationText.format(config.policy.minResidency))")
            print("\ndevices:")
            for device in config.devices {
                let capacity = device.capacity.map(ByteSize.format) ?? "as reported"
                print("  \(device.id.rawValue.padded(12)) \(device.kind.rawValue.padded(10)) capacity \(capacity.padded(10)) cushion \(ByteSize.format(device.cushion))")
            }
            print("\nmodels:")
            print("  " + ["id".padded(16), "kind".padded(7), "memory".padded(44), "prio", "qos".padded(12), "keep_alive".padded(10), "device"].joined(separator: " "))
            for model in config.models {
                let memory: String
                switch model.memory {
                case .declared(let bytes): memory = ByteSize.format(bytes)
                case .gguf(let spec):
                    let bytes = footprints[model.id].map { ByteSize.format($0.bytes) } ?? "?"
                    let context = footprints[model.id]?.estimate.map { " ctx \($0.context)" } ?? ""
                    memory = "\(bytes) est.\(context) (\((spec.path as NSString).lastPathComponent))"
                }
                var notes: [String] = []
                if model.pinned { notes.append("pinned") }
                if model.reserve > 0 { notes.append("reserve \(ByteSize.format(model.reserve))") }
                if !model.coexistsWith.isEmpty { notes.append("coexists with \(model.coexistsWith.map(\.rawValue).joined(separator: ","))") }
                if let group = model.exclusiveGroup { notes.append("group \(group)") }
                let keepAlive: String
                switch model.keepAlive {
                case .forever: keepAlive = "forever"
                case .duration(let d): keepAlive = DurationText.format(d)
                }
                print("  " + [model.id.rawValue.padded(16), model.kind.rawValue.padded(7), memory.padded(44), "\(model.priority)".padded(4),
                              model.qos.rawValue.padded(12), keepAlive.padded(10), (model.device?.rawValue ?? "any").padded(6)].joined(separator: " ")
                      + (notes.isEmpty ? "" : "  " + notes.joined(separator: "; ")))
            }
        }
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
