import Devices
import Foundation
import Logging
import VRAMPolicy

/// Measured footprints, remembered across restarts in a small JSON file.
///
/// After a model is ready vramd measures what it occupies and records it here; before the next
/// load of the same model with the same settings, ``plannedSize(for:declared:)`` answers the larger
/// of the declared (or estimated) figure and the measurement, so a model that turned out bigger
/// than declared is planned at its real size. A key keeps the largest measurement seen, because
/// memory a server touches grows with use (KV cache pages on the host) and the planner must
/// allow for the peak.
///
/// The file is replaced atomically (written beside it, then renamed). A file that cannot be read
/// or decoded is logged, set aside as `footprints.json.corrupt`, and treated as empty: a lost
/// measurement costs one re-measurement, never a failed start.
public actor FootprintStore {
    /// One remembered measurement.
    public struct Measurement: Sendable, Hashable, Codable {
        /// The largest footprint measured for the key.
        public var bytes: UInt64
        /// When it was measured.
        public var measuredAt: Date
    }

    private struct File: Codable {
        struct Entry: Codable {
            var model: ModelID
            var variant: String
            var bytes: UInt64
            var measuredAt: Date

            enum CodingKeys: String, CodingKey {
                case model, variant, bytes
                case measuredAt = "measured_at"
            }
        }
        var version: Int
        var footprints: [Entry]
    }

    /// The file this store reads and writes.
    public nonisolated let path: String
    private let logger: Logger
    private var entries: [FootprintKey: Measurement]?

    /// - Parameters:
    ///   - path: the state file; see ``defaultPath(stateDirectory:environment:)``.
    public init(path: String, logger: Logger = Logger(label: "vramd.footprints")) {
        self.path = path
        self.logger = logger
    }

    /// `<stateDirectory>/footprints.json` when the config gives `state_dir`, else
    /// `$XDG_STATE_HOME/vramd/footprints.json`, else `~/.local/state/vramd/footprints.json`.
    public static func defaultPath(stateDirectory: String? = nil,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let stateDirectory { return stateDirectory + "/footprints.json" }
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/vramd/footprints.json" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/vramd/footprints.json"
    }

    /// The remembered measurement for `key`, if any.
    public func measurement(for key: FootprintKey) async -> Measurement? {
        await loaded()[key]
    }

    /// What to plan a load with: the larger of `declared` and the remembered measurement.
    public func plannedSize(for key: FootprintKey, declared: UInt64) async -> UInt64 {
        max(declared, await measured(for: key) ?? 0)
    }

    /// The largest footprint measured for `key`, if it was ever measured.
    public func measured(for key: FootprintKey) async -> UInt64? {
        await loaded()[key]?.bytes
    }

    /// Remembers a measurement, keeping the larger of it and what was already remembered, and
    /// writes the file. A failed write is logged; the measurement stays in memory.
    public func record(_ bytes: UInt64, for key: FootprintKey, at date: Date = Date()) async {
        // Nothing measured (a device that cannot see the process) is no measurement.
        guard bytes > 0 else { return }
        var entries = await loaded()
        if let known = entries[key], known.bytes >= bytes { return }
        entries[key] = Measurement(bytes: bytes, measuredAt: date)
        self.entries = entries
        await save(entries)
    }

    /// Forgets the measurement for `key` (the model's file was replaced, say).
    public func forget(_ key: FootprintKey) async {
        var entries = await loaded()
        guard entries.removeValue(forKey: key) != nil else { return }
        self.entries = entries
        await save(entries)
    }

    private func loaded() async -> [FootprintKey: Measurement] {
        if let entries { return entries }
        let path = path
        let result: Result<[FootprintKey: Measurement], any Error>? = try? await BlockingWork.run {
            guard FileManager.default.fileExists(atPath: path) else { return .success([:]) }
            return Result { try Self.decode(Data(contentsOf: URL(fileURLWithPath: path))) }
        }
        var entries: [FootprintKey: Measurement] = [:]
        switch result {
        case .success(let decoded)?:
            entries = decoded
        case .failure(let error)?:
            logger.warning("ignoring unreadable footprint file; measurements will be taken again",
                           metadata: ["path": "\(path)", "error": "\(error)"])
            try? await BlockingWork.run {
                try? FileManager.default.removeItem(atPath: path + ".corrupt")
                try? FileManager.default.moveItem(atPath: path, toPath: path + ".corrupt")
            }
        case nil:
            break
        }
        // Another call may have loaded while this one read.
        if let current = self.entries { return current }
        self.entries = entries
        return entries
    }

    private func save(_ entries: [FootprintKey: Measurement]) async {
        let path = path
        let file = File(version: 1, footprints: entries.sorted { ($0.key.model, $0.key.variant) < ($1.key.model, $1.key.variant) }.map {
            File.Entry(model: $0.key.model, variant: $0.key.variant, bytes: $0.value.bytes, measuredAt: $0.value.measuredAt)
        })
        do {
            try await BlockingWork.run {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                let url = URL(fileURLWithPath: path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                // .atomic writes a temporary file beside it and renames it into place.
                try encoder.encode(file).write(to: url, options: .atomic)
            }
        } catch {
            logger.error("cannot write the footprint file", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    private static func decode(_ data: Data) throws -> [FootprintKey: Measurement] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let file = try decoder.decode(File.self, from: data)
        guard file.version == 1 else { throw BackendError("unknown footprint file version \(file.version)") }
        return Dictionary(file.footprints.map { (FootprintKey(model: $0.model, variant: $0.variant), Measurement(bytes: $0.bytes, measuredAt: $0.measuredAt)) },
                          uniquingKeysWith: { $0.bytes >= $1.bytes ? $0 : $1 })
    }
}
