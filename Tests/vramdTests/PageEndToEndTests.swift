import Broker
import Foundation
import Testing

/// The page at `GET /` in a real headless Chromium against a running vramd: its script fetches
/// `/v1/status` and `/v1/events` and builds the DOM, which must match what `/v1/status` says:
/// one bar per device whose segments are the resident models and reservations at their share
/// of the device, a row per model with its state, and the events that happened.
@Suite(.serialized) struct PageEndToEndTests {
    static let token = "page-test-token-0123456789"

    static func config(backend: String, stateDirectory: String, auth: Bool) -> String {
        """
        listen: 127.0.0.1:0
        state_dir: \(stateDirectory)
        \(auth ? "auth: {token: \(token)}" : "")
        devices:
          - {id: gpu0, kind: simulated, capacity: 10GiB, cushion: 512MiB}
        models:
          alpha:
            kind: llm
            memory: 6GiB
            backend: {type: http, url: "\(backend)", load: {method: POST, path: /load}, unload: {method: POST, path: /unload}}
          beta:
            kind: stt
            memory: 2GiB
            backend: {type: http, url: "\(backend)", load: {method: POST, path: /load}, unload: {method: POST, path: /unload}}
          gamma:
            kind: tts
            memory: 1GiB
            qos: guaranteed
            device: gpu0
            backend: {type: http, url: "\(backend)", load: {method: POST, path: /load}, unload: {method: POST, path: /unload}}
        """
    }

    @Test(.timeLimit(.minutes(3)))
    func theBarsAndRowsMatchStatus() async throws {
        guard let browser = Chromium.binary else { return }
        let directory = try LiveBroker.temporaryDirectory()
        let (backend, backendURL) = try await LiveBroker.backend(in: directory)
        defer { backend.stop() }
        let broker = try await LiveBroker.start(config: Self.config(backend: backendURL, stateDirectory: directory + "/state", auth: false),
                                                in: directory)
        defer { broker.vramd.stop() }
        #expect(try await broker.post("/v1/models/alpha/load").status == 200)
        #expect(try await broker.post("/v1/models/beta/load").status == 200)
        let report = try await broker.status()
        #expect(report.models.filter { $0.state == .ready }.map(\.id) == ["alpha", "beta"])

        let dom = HTMLTags(try Chromium.dumpDOM(browser, broker.url + "/", in: directory))
        #expect(!dom.with("data-rendered").isEmpty, "the page's script did not render")
        Self.expectPage(dom, matches: report)
        let events = dom.with("data-kind", "loaded").compactMap { $0["data-model"] }
        #expect(Set(events) == ["alpha", "beta"])

        let screenshot = directory + "/page.png"
        try Chromium.screenshot(browser, broker.url + "/", to: screenshot, in: directory)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "\(screenshot): \(png.count) bytes")
    }

    /// With `auth`, the page itself is public (it holds no data) and everything it fetches needs
    /// the token: without one it shows the token form and no data; given one through the link's
    /// fragment it stores it and every call it makes (status, events, load/unload) sends it. The
/// button is clicked through the DevTools protocol (`Scripts/page_action.py`).
    @Test(.timeLimit(.minutes(3)))
    func behindTheTokenThePageAsksForItAndThenUsesIt() async throws {
        guard let browser = Chromium.binary else { return }
        let directory = try LiveBroker.temporaryDirectory()
        let (backend, backendURL) = try await LiveBroker.backend(in: directory)
        defer { backend.stop() }
        let broker = try await LiveBroker.start(config: Self.config(backend: backendURL, stateDirectory: directory + "/state", auth: true),
                                                in: directory)
        defer { broker.vramd.stop() }
        #expect(try await broker.get("/").status == 200)
        #expect(try await broker.get("/v1/status").status == 401)
        #expect(try await broker.post("/v1/models/alpha/load", token: Self.token).status == 200)
        let report = try await broker.status(token: Self.token)

        let locked = HTMLTags(try Chromium.dumpDOM(browser, broker.url + "/", in: directory))
        let form = try #require(locked.with("id", "auth").first)
        #expect(form["hidden"] == nil, "the token form is hidden")
        #expect(locked.tags.filter { $0.name == "tr" && $0["data-model"] != nil }.isEmpty)

        let open = HTMLTags(try Chromium.dumpDOM(browser, broker.url + "/#token=\(Self.token)", in: directory))
        #expect(open.with("id", "auth").first?["hidden"] != nil)
        Self.expectPage(open, matches: report)

        // gamma's load button, clicked in the browser: the page's call carries the token.
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/page_action.py").path
        let click = try CommandRunner.run(executable: URL(fileURLWithPath: LiveBroker.python),
                                          [script, browser.path, broker.url + "/#token=\(Self.token)", "gamma", "load", directory + "/chromium-click"])
        #expect(click.status == 0, "\(click.stderr)")
        let shown = try JSONSerialization.jsonObject(with: Data(click.stdout.utf8)) as? [String: String]
        #expect(shown == ["before": "unloaded", "state": "ready", "problem": ""], "\(click.stdout)")
        #expect(try await broker.status(token: Self.token).models.first { $0.id == "gamma" }?.state == .ready)
    }

    /// The device bars and model rows of the rendered page against `report`.
    static func expectPage(_ dom: HTMLTags, matches report: StatusReport, sourceLocation: SourceLocation = #_sourceLocation) {
        for device in report.devices {
            let bar = dom.section("data-device", device.id)
            #expect(!bar.isEmpty, "no bar for \(device.id)", sourceLocation: sourceLocation)
            let total = Double(max(device.capacity, device.plannedUse, 1))
            for (kind, shares) in [("model", device.residents), ("reservation", device.reservations)] {
                let segments = bar.filter { $0["data-kind"] == kind }
                #expect(segments.map { $0["data-model"] ?? "" } == shares.map(\.model), "\(kind) segments", sourceLocation: sourceLocation)
                #expect(segments.map { $0["data-bytes"] ?? "" } == shares.map { String($0.bytes) }, sourceLocation: sourceLocation)
                for (segment, share) in zip(segments, shares) {
                    let width = percent("width", in: segment["style"]) ?? -1
                    #expect(abs(width - 100 * Double(share.bytes) / total) < 0.01, "\(segment.attributes)", sourceLocation: sourceLocation)
                }
            }
            #expect(bar.filter { $0["data-kind"] == "foreign" }.count == (device.foreign > 0 ? 1 : 0), sourceLocation: sourceLocation)
            let cushion = bar.first { $0["class"] == "cushion" }
            #expect(cushion?["data-bytes"] == String(device.cushion), sourceLocation: sourceLocation)
            let left = percent("left", in: cushion?["style"]) ?? -1
            #expect(abs(left - 100 * (total - Double(device.cushion)) / total) < 0.01, sourceLocation: sourceLocation)
        }
        // Each row, and the actions it offers: load for what is not loaded, unload for what is.
        var rows: [(model: String, state: String, actions: [String])] = []
        for tag in dom.tags {
            if tag.name == "tr", let model = tag["data-model"] { rows.append((model, tag["data-state"] ?? "", [])) }
            if tag.name == "button", let action = tag["data-action"], !rows.isEmpty { rows[rows.count - 1].actions.append(action) }
        }
        #expect(rows.map(\.model) == report.models.map(\.id), sourceLocation: sourceLocation)
        #expect(rows.map(\.state) == report.models.map(\.state.rawValue), sourceLocation: sourceLocation)
        #expect(rows.map(\.actions) == report.models.map { $0.state == .ready ? ["unload"] : ["load"] }, sourceLocation: sourceLocation)
    }

    /// `width: 12.5%` out of a style attribute.
    static func percent(_ property: String, in style: String?) -> Double? {
        style?.split(separator: ";").compactMap { declaration -> Double? in
            let pair = declaration.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0] == property, pair[1].hasSuffix("%") else { return nil }
            return Double(pair[1].dropLast())
        }.first
    }
}
