import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import VRAMConfig
import VRAMPolicy

/// Keeps a llama-server's prompt cache across swaps (`prompt_cache: true`): before the model is
/// unloaded its slots that hold a prompt are saved to disk (`POST /slots/{id}?action=save`), and
/// after its next load they are restored before any request is admitted, so the next turn of a
/// conversation finds its prefix instead of reading the whole prompt again.
///
/// Files live in `<state_dir>/prompt-cache/<model>/`, named by a key of what shapes the cache (the
/// GGUF file's identity and the server's options): a file made for another model file or another
/// context is never restored. All models' files together stay under `policy.prompt_cache_disk`,
/// least recently used out first. A save is bounded by `policy.prompt_cache_timeout`, so a slow
/// or silent server never holds up the load that waits for its memory.
struct PromptCache: Sendable {
    let root: String
    let diskLimit: Int64
    let timeout: Duration
    let client: HTTPClient
    let logger: Logger

    /// What one save or restore did.
    struct Outcome: Sendable, Equatable {
        var files = 0
        var bytes: Int64 = 0
        var failures = 0
        var skipped = 0
        var took: Duration = .zero
    }

    func directory(for model: ModelID) -> String { Self.directory(root: root, model: model) }

    static func directory(root: String, model: ModelID) -> String {
        root + "/" + String(model.rawValue.map { $0 == "/" || $0 == "\0" || $0 == "." ? "_" : $0 })
    }

    /// The arguments that make a llama-server save and restore its slots there; `--swa-full` when
    /// the model has sliding-window layers, without which a restored prefix is never reused.
    static func arguments(directory: String, slidingWindow: Bool) -> [String] {
        ["--slot-save-path", directory] + (slidingWindow ? ["--swa-full"] : [])
    }

    /// What shapes a saved cache: the model file (path, size, time) and every option of the
    /// command but the port. Two different keys never share a file.
    static func key(command: [String], ggufPath: String?) -> String {
        var identity = command.filter { !$0.contains("${PORT}") }.joined(separator: "\u{1}")
        if let ggufPath {
            let real = URL(filePath: ggufPath).resolvingSymlinksInPath().path
            let attributes = try? FileManager.default.attributesOfItem(atPath: real)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
            let time = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            identity += "\u{2}\(real)\u{2}\(size)\u{2}\(time)"
        }
        return StableHash.hex(identity)
    }

    /// Saves every slot of the server at `endpoint` that holds a prompt.
    func save(_ model: ModelID, endpoint: String, key: String) async -> Outcome {
        let started = ContinuousClock.now
        let deadline = started.advanced(by: timeout)
        var outcome = Outcome()
        let directory = directory(for: model)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            let slots = try await json(.GET, endpoint + "/slots", body: nil, deadline: deadline) as? [[String: Any]] ?? []
            for slot in slots {
                guard let id = slot["id"] as? Int, (slot["n_prompt_tokens"] as? Int ?? 0) > 0 else { continue }
                let name = "\(key)-slot\(id).bin"
                do {
                    let answer = try await json(.POST, endpoint + "/slots/\(id)?action=save", body: ["filename": name], deadline: deadline)
                    let written = ((answer as? [String: Any])?["n_written"] as? NSNumber)?.int64Value ?? 0
                    outcome.files += 1
                    outcome.bytes += written
                } catch {
                    outcome.failures += 1
                    logger.warning("prompt cache: save failed", metadata: ["model": "\(model)", "slot": "\(id)", "error": "\(error)"])
                }
            }
        } catch {
            outcome.failures += 1
            logger.warning("prompt cache: cannot read the slots", metadata: ["model": "\(model)", "error": "\(error)"])
        }
        outcome.took = started.duration(to: .now)
        enforceDiskLimit()
        return outcome
    }

    /// Restores the slots saved under `key`; files of other keys are left alone, each with a
    /// logged reason.
    func restore(_ model: ModelID, endpoint: String, key: String) async -> Outcome {
        let started = ContinuousClock.now
        let deadline = started.advanced(by: timeout)
        var outcome = Outcome()
        let directory = directory(for: model)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where name.hasSuffix(".bin") {
            guard name.hasPrefix(key + "-slot"), let id = Int(name.dropFirst(key.count + 5).dropLast(4)) else {
                outcome.skipped += 1
                logger.info("prompt cache: not restored", metadata: [
                    "model": "\(model)", "file": "\(name)", "reason": "made for another model file or other server options",
                ])
                continue
            }
            do {
                let answer = try await json(.POST, endpoint + "/slots/\(id)?action=restore", body: ["filename": name], deadline: deadline)
                outcome.files += 1
                outcome.bytes += ((answer as? [String: Any])?["n_read"] as? NSNumber)?.int64Value ?? 0
                // Touched, so the disk bound takes the files no model came back for first.
                try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: directory + "/" + name)
            } catch {
                outcome.failures += 1
                logger.warning("prompt cache: restore failed, the prompt will be read again", metadata: [
                    "model": "\(model)", "file": "\(name)", "error": "\(error)",
                ])
            }
        }
        outcome.took = started.duration(to: .now)
        return outcome
    }

    /// Deletes the least recently used files of every model until all fit `diskLimit`.
    func enforceDiskLimit() {
        let manager = FileManager.default
        var files: [(path: String, size: Int64, time: Date)] = []
        for model in (try? manager.contentsOfDirectory(atPath: root)) ?? [] {
            for name in (try? manager.contentsOfDirectory(atPath: root + "/" + model)) ?? [] where name.hasSuffix(".bin") {
                let path = root + "/" + model + "/" + name
                let attributes = try? manager.attributesOfItem(atPath: path)
                files.append((path, (attributes?[.size] as? NSNumber)?.int64Value ?? 0, attributes?[.modificationDate] as? Date ?? .distantPast))
            }
        }
        var total = files.reduce(Int64(0)) { $0 + $1.size }
        for file in files.sorted(by: { $0.time < $1.time }) where total > diskLimit {
            try? manager.removeItem(atPath: file.path)
            total -= file.size
            logger.info("prompt cache: removed to stay under prompt_cache_disk", metadata: ["file": "\(file.path)"])
        }
    }

    private struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    private func json(_ method: HTTPMethod, _ url: String, body: [String: Any]?, deadline: ContinuousClock.Instant) async throws -> Any {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw Refused(description: "out of time (prompt_cache_timeout)") }
        let response = try await client.execute(request, timeout: .nanoseconds(left.nanoseconds))
        let data = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code < 300 else { throw Refused(description: "\(response.status.code): \(String(buffer: data).prefix(300))") }
        return try JSONSerialization.jsonObject(with: Data(buffer: data))
    }
}
