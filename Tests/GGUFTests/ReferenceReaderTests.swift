import Foundation
import Testing
@testable import GGUF

/// vramd's reader against gguf-py's `GGUFReader`, llama.cpp's reference parser, on fixtures
/// gguf-py's `GGUFWriter` wrote.
@Suite(.enabled(if: TestEnvironment.canRun(TestEnvironment.python), "needs VRAMD_PYTHON with gguf (scripts/test sets it)"))
struct ReferenceReaderTests {
    /// gguf-py's type names, as `GGUFReader` reports them.
    static let typeNames: [String: GGUFValueType] = [
        "UINT8": .uint8, "INT8": .int8, "UINT16": .uint16, "INT16": .int16, "UINT32": .uint32,
        "INT32": .int32, "FLOAT32": .float32, "BOOL": .bool, "STRING": .string, "ARRAY": .array,
        "UINT64": .uint64, "INT64": .int64, "FLOAT64": .float64,
    ]

    func reference(_ name: String) throws -> [String: Any] {
        let url = try Fixtures.directory().appendingPathComponent("\(name).json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return try #require(json as? [String: Any])
    }

    @Test(arguments: Fixtures.names)
    func metadataMatchesGGUFReader(_ name: String) throws {
        let expected = try reference(name)
        // A small eager limit forces the lazy path for the 5000-token vocabulary.
        let file = try GGUFFile.open(path: try Fixtures.path(name), eagerArrayLimit: 64)
        let fields = try #require(expected["fields"] as? [String: [String: Any]])
        #expect(Set(file.keys) == Set(fields.keys))
        for (key, field) in fields {
            let value = try #require(file[key], "missing \(key)")
            let types = try #require(field["types"] as? [String]).compactMap { Self.typeNames[$0] }
            #expect(types.first == value.type, "\(key)")
            if case .array(let array) = value {
                #expect(types.last == array.elementType, "\(key)")
                let elements = try file.arrayValues(key)
                let reference = try #require(field["value"] as? [Any], "\(key)")
                #expect(elements.count == reference.count, "\(key)")
                for (element, want) in zip(elements, reference) {
                    #expect(Self.matches(element, want), "\(key): \(element) vs \(want)")
                }
            } else {
                #expect(Self.matches(value, field["value"] as Any), "\(key): \(value) vs \(String(describing: field["value"]))")
            }
        }
    }

    @Test(arguments: Fixtures.names)
    func tensorTableMatchesGGUFReader(_ name: String) throws {
        let expected = try reference(name)
        let file = try GGUFFile.open(path: try Fixtures.path(name))
        #expect(file.alignment == expected["alignment"] as? Int)
        #expect(file.dataOffset == expected["data_offset"] as? Int)
        let tensors = try #require(expected["tensors"] as? [[String: Any]])
        #expect(file.tensors.map(\.name) == tensors.compactMap { $0["name"] as? String })
        for (tensor, want) in zip(file.tensors, tensors) {
            #expect(tensor.type.rawValue == UInt32(want["type"] as? Int ?? -1), "\(tensor.name)")
            #expect(tensor.dimensions == want["dims"] as? [Int], "\(tensor.name)")
            #expect(tensor.offset == want["offset"] as? Int, "\(tensor.name)")
            #expect(tensor.byteCount == want["bytes"] as? Int, "\(tensor.name)")
            #expect(tensor.elementCount == want["elements"] as? Int, "\(tensor.name)")
        }
    }

    @Test func customAlignmentIsHonoured() throws {
        let file = try GGUFFile.open(path: try Fixtures.path("llama-gqa"))
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        #expect(try file.perLayerInts("llama.attention.head_count_kv", layers: 4) == [8, 2, 0, 4])
        #expect(try file.uint("test.u64") == (1 << 40) + 7)
        #expect(try file.uint("test.u32") == 4_000_000_000)
    }

    @Test func bigEndianFilesAreNamed() throws {
        let path = try Fixtures.directory().appendingPathComponent("big-endian.gguf").path
        #expect {
            try GGUFFile.open(path: path)
        } throws: { error in
            (error as? GGUFError)?.code == .byteSwapped
        }
    }

    /// Whether a value equals what JSON made of gguf-py's value.
    static func matches(_ value: GGUFValue, _ json: Any) -> Bool {
        switch value {
        case .string(let string): return json as? String == string
        case .bool(let flag): return json as? Bool == flag
        case .float32(let float): return (json as? Double).map { Float($0) == float } ?? false
        case .float64(let double): return json as? Double == double
        default:
            guard let int = value.intValue else { return false }
            if let number = json as? NSNumber { return number.int64Value == Int64(int) }
            return false
        }
    }
}
