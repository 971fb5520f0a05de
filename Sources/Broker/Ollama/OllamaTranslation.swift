import Foundation
import VRAMConfig
import VRAMPolicy

/// Ollama's request and answer shapes, translated to and from the OpenAI routes the backends
/// serve (https://github.com/ollama/ollama/blob/main/docs/api.md).
enum OllamaTranslation {
    /// `options` that have an OpenAI equivalent, by their Ollama name.
    static let optionNames = ["num_predict": "max_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                              "seed": "seed", "stop": "stop", "repeat_penalty": "repeat_penalty", "min_p": "min_p",
                              "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"]

    /// Maps `options` onto an OpenAI body. `num_ctx` is the model's context, set by vramd's config:
    /// one that asks for more than the config gives is refused, not silently dropped.
    static func apply(options: [String: Any]?, to body: inout [String: Any], model: String, context: Int?) throws(BrokerError) {
        guard let options else { return }
        for (name, value) in options {
            if let mapped = optionNames[name] {
                body[mapped] = value
            } else if name == "num_ctx" {
                let asked = (value as? NSNumber)?.intValue ?? 0
                guard let context, asked <= context else {
                    throw BrokerError.badRequest("options.num_ctx \(asked) is more than '\(model)' is configured for"
                        + (context.map { " (\($0) tokens)" } ?? "") + "; vramd sets each model's context in its config", model: model)
                }
            }
        }
    }

    /// Ollama's `keep_alive`: a duration (`"5m"`, `"1h30m"`), a number of seconds, `0` (unload
    /// once idle) or a negative value (keep loaded). `nil` when the request has none.
    static func keepAlive(_ value: Any?) throws(BrokerError) -> KeepAlive? {
        switch value {
        case nil, is NSNull: return nil
        case let number as NSNumber:
            let seconds = number.doubleValue
            return seconds < 0 ? .forever : .duration(.milliseconds(Int64(seconds * 1000)))
        case let text as String:
            if text.hasPrefix("-") { return .forever }
            if let seconds = Double(text) { return .duration(.milliseconds(Int64(seconds * 1000))) }
            guard let duration = DurationText.parse(text) else {
                throw BrokerError.badRequest("keep_alive '\(text)' is not a duration (5m, 30s, 1h) or a number of seconds")
            }
            return .duration(duration)
        default:
            throw BrokerError.badRequest("keep_alive must be a duration or a number of seconds")
        }
    }

    /// A chat message as OpenAI takes it: Ollama's base64 `images` become image parts.
    static func openAIMessage(_ message: [String: Any]) -> [String: Any] {
        var converted = message
        converted["images"] = nil
        guard let images = message["images"] as? [String], !images.isEmpty else { return converted }
        var parts: [[String: Any]] = [["type": "text", "text": message["content"] as? String ?? ""]]
        parts += images.map { ["type": "image_url", "image_url": ["url": "data:image/png;base64,\($0)"]] }
        converted["content"] = parts
        return converted
    }

    /// What the final object of a generation reports: why it stopped, and Ollama's counts and
    /// durations (nanoseconds), from the backend's `usage` and llama.cpp's `timings`.
    struct Final {
        var doneReason = "stop"
        var promptTokens: Int?
        var completionTokens: Int?
        var promptMilliseconds: Double?
        var predictedMilliseconds: Double?

        mutating func read(_ answer: [String: Any]) {
            if let choice = (answer["choices"] as? [[String: Any]])?.first, let reason = choice["finish_reason"] as? String {
                doneReason = reason
            }
            if let usage = answer["usage"] as? [String: Any] {
                promptTokens = (usage["prompt_tokens"] as? NSNumber)?.intValue ?? promptTokens
                completionTokens = (usage["completion_tokens"] as? NSNumber)?.intValue ?? completionTokens
            }
            if let timings = answer["timings"] as? [String: Any] {
                promptTokens = promptTokens ?? (timings["prompt_n"] as? NSNumber)?.intValue
                completionTokens = completionTokens ?? (timings["predicted_n"] as? NSNumber)?.intValue
                promptMilliseconds = (timings["prompt_ms"] as? NSNumber)?.doubleValue ?? promptMilliseconds
                predictedMilliseconds = (timings["predicted_ms"] as? NSNumber)?.doubleValue ?? predictedMilliseconds
            }
        }

        func fields(total: Duration, load: Duration) -> [String: Any] {
            func nanoseconds(_ milliseconds: Double?) -> Int64 { Int64((milliseconds ?? 0) * 1e6) }
            return [
                "done": true, "done_reason": doneReason,
                "total_duration": total.nanoseconds, "load_duration": load.nanoseconds,
                "prompt_eval_count": promptTokens ?? 0, "prompt_eval_duration": nanoseconds(promptMilliseconds),
                "eval_count": completionTokens ?? 0, "eval_duration": nanoseconds(predictedMilliseconds),
            ]
        }
    }

    /// The text of a chat or completion answer, whole (`message.content`, `text`) or one
    /// streamed chunk's (`delta.content`, `text`).
    static func text(of answer: [String: Any]) -> String {
        guard let choice = (answer["choices"] as? [[String: Any]])?.first else { return "" }
        if let message = choice["message"] as? [String: Any] { return message["content"] as? String ?? "" }
        if let delta = choice["delta"] as? [String: Any] { return delta["content"] as? String ?? "" }
        return choice["text"] as? String ?? ""
    }

    /// `2026-12-06T18:31:58.123Z`, as Ollama writes `created_at`.
    static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
            .replacingOccurrences(of: "+0000", with: "Z")
    }

    /// The events in `buffer` that are complete (each ends with a blank line), as the JSON of
    /// their `data:` lines; what is left stays in `buffer`. `[DONE]` ends a stream and yields nothing.
    static func events(_ buffer: inout String) -> [[String: Any]] {
        var found: [[String: Any]] = []
        buffer = buffer.replacingOccurrences(of: "\r\n", with: "\n")
        while let end = buffer.range(of: "\n\n") {
            let event = buffer[..<end.lowerBound]
            buffer.removeSubrange(..<end.upperBound)
            for line in event.split(separator: "\n") where line.hasPrefix("data:") {
                let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                guard payload != "[DONE]", let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { continue }
                found.append(object)
            }
        }
        return found
    }

    static func line(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
