import ArgumentParser
import GGUF

extension VRAMD {
    /// `vramd inspect MODEL.gguf`: the header of a GGUF file, for people.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a GGUF file's metadata (arrays summarised) and tensor table."
        )

        @Argument(help: "The GGUF model file.")
        var model: String

        @Flag(help: "Omit the tensor table.")
        var noTensors = false

        func run() throws {
            let file = try GGUFFile.open(path: model)
            print("GGUF v\(file.version), \(file.metadata.count) keys, \(file.tensors.count) tensors, "
                + "alignment \(file.alignment), data at byte \(file.dataOffset) of \(file.fileSize)")
            print("")
            let width = file.metadata.map(\.key.count).max() ?? 0
            for entry in file.metadata {
                var value = entry.value
                // Show the first few elements of arrays the header read skipped.
                if case .array(var array) = value, array.values == nil {
                    array.values = try file.arrayValues(entry.key, prefix: Self.shownElements)
                    value = .array(array)
                }
                print("\(entry.key.padding(toLength: width, withPad: " ", startingAt: 0))  \(Self.summary(value))")
            }
            guard !noTensors else { return }
            print("")
            let nameWidth = file.tensors.map(\.name.count).max() ?? 0
            for tensor in file.tensors {
                let dims = tensor.dimensions.map(String.init).joined(separator: " x ")
                let size = tensor.byteCount.map(formatBytes) ?? "?"
                print("\(tensor.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0))  "
                    + "\(tensor.type.name.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                    + "\(dims.padding(toLength: 22, withPad: " ", startingAt: 0)) \(size)")
            }
        }

        static let shownElements = 8

        /// One line per value: long strings cut, arrays as type, length and first elements.
        static func summary(_ value: GGUFValue) -> String {
            switch value {
            case .string(let string):
                let line = string.replacingOccurrences(of: "\n", with: "\\n")
                return line.count > 80 ? "\"\(line.prefix(77))...\" (\(string.utf8.count) bytes)" : "\"\(line)\""
            case .array(let array):
                let head = (array.values ?? []).prefix(shownElements).map(summary).joined(separator: ", ")
                let more = array.count > shownElements ? ", ..." : ""
                return "\(array.elementType)[\(array.count)] [\(head)\(more)]"
            case .bool(let flag): return String(flag)
            case .float32(let float): return String(float)
            case .float64(let double): return String(double)
            default: return value.intValue.map(String.init) ?? "\(value)"
            }
        }
    }
}
