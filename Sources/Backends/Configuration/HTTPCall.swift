/// One HTTP request a backend sends to its server: the `load`, `unload` and `health` entries of
/// an `http` backend.
public struct HTTPCall: Sendable, Hashable {
    /// YAML `method`: `GET`, `POST`, …
    public var method: String
    /// YAML `path`, appended to the backend's `url`; `${MODEL_ID}` is replaced by the model id.
    public var path: String
    /// YAML `body`, sent as JSON when present; `${MODEL_ID}` is replaced by the model id.
    public var body: String?

    public init(method: String = "GET", path: String, body: String? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }
}
