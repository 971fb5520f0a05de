import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import VRAMPolicy

/// `hooks.on_pressure` (seed 004's pressure handler): told, with a POST of the plan, when a load
/// had to evict or wait. Fire and forget: the load never waits for the hook.
struct PressureHook: Sendable {
    let url: String
    let logger: Logger

    func fire(_ decision: PlanDecision) {
        guard let body = Self.body(of: decision) else { return }
        let url = self.url
        let logger = self.logger
        Task {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                _ = try await HTTPClient.backends.execute(request, timeout: .seconds(5))
            } catch {
                logger.warning("on_pressure hook failed", metadata: ["url": "\(url)", "error": "\(error)"])
            }
        }
    }

    /// The JSON the hook gets; `nil` for decisions that neither evict nor wait.
    static func body(of decision: PlanDecision) -> Data? {
        var body: [String: Any] = ["model": decision.model.rawValue, "reason": decision.description]
        switch decision {
        case .load(let plan):
            body["decision"] = "evict"
            body["requested"] = plan.bytes
            body["available"] = plan.freeBefore
            body["evict"] = plan.evictions.map(\.model.rawValue)
        case .wait(let plan):
            body["decision"] = "wait"
            body["requested"] = plan.bytes
            body["available"] = plan.freeBefore
            body["waiting_for"] = plan.waitingFor.map(\.model.rawValue)
        default: return nil
        }
        return try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }
}
