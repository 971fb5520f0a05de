/// What the prompt cache did since vramd started (`/v1/status`, `/metrics`).
public struct PromptCacheStats: Sendable, Codable, Equatable {
    public var saves = 0
    public var restores = 0
    /// Saves or restores that failed (the request still got its answer, with the prompt read again).
    public var failures = 0
    /// Files left alone: made for another model file or other server options.
    public var skipped = 0
    public var bytesSaved: Int64 = 0
    public var bytesRestored: Int64 = 0
    public var saveSeconds: Double = 0
    public var restoreSeconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case saves, restores, failures, skipped
        case bytesSaved = "bytes_saved", bytesRestored = "bytes_restored"
        case saveSeconds = "save_seconds", restoreSeconds = "restore_seconds"
    }

    mutating func saved(_ outcome: PromptCache.Outcome) {
        saves += outcome.files
        failures += outcome.failures
        bytesSaved += outcome.bytes
        saveSeconds += outcome.took.seconds
    }

    mutating func restored(_ outcome: PromptCache.Outcome) {
        restores += outcome.files
        failures += outcome.failures
        skipped += outcome.skipped
        bytesRestored += outcome.bytes
        restoreSeconds += outcome.took.seconds
    }
}
