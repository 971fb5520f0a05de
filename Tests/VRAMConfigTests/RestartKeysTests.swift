import Testing
@testable import VRAMConfig

/// What a reload cannot apply is named, so a changed setting is never silently ignored.
@Suite struct RestartKeysTests {
    static let base = """
        listen: 127.0.0.1:8770
        queue: {max: 8, timeout: 30s}
        policy: {min_residency: 5s, swap_quantum: {requests: 4, time: 2s}}
        devices: [{id: gpu0, kind: simulated, capacity: 8GiB}]
        models:
          a: {kind: llm, memory: 4GiB}
        """

    static func config(_ yaml: String) throws -> Config {
        try Config.parse(yaml: yaml, file: "/etc/vramd/vramd.yaml")
    }

    @Test func modelsAndTheLedgerPolicyNeedNoRestart() throws {
        let running = try Self.config(Self.base)
        let changed = try Self.config(Self.base
            .replacingOccurrences(of: "a: {kind: llm, memory: 4GiB}", with: "a: {kind: llm, memory: 5GiB}\n  b: {kind: tts, memory: 1GiB}")
            .replacingOccurrences(of: "min_residency: 5s", with: "min_residency: 0s"))
        #expect(changed.keysNeedingRestart(running: running).isEmpty)
        #expect(running.keysNeedingRestart(running: running).isEmpty)
    }

    @Test func settingsAReloadAppliesAreTakenUpAndNotNamed() throws {
        let running = try Self.config(Self.base)
        let changed = try Self.config(Self.base
            .replacingOccurrences(of: "max: 8, timeout: 30s", with: "max: 16, timeout: 10s")
            .replacingOccurrences(of: "requests: 4", with: "requests: 0")
            .replacingOccurrences(of: "min_residency: 5s,", with: "min_residency: 5s, prewarm: off,")
            + "\nrouting: {llm: a}\nloading_feedback: true\nhooks: {on_pressure: \"http://127.0.0.1:9/hook\"}\n")
        #expect(changed.keysNeedingRestart(running: running).isEmpty)
        let applied = running.broker.reloaded(from: changed.broker)
        #expect(applied == changed.broker, "every changed setting is one a reload applies")
    }

    @Test func settingsFixedAtStartAreNamedAndKept() throws {
        let running = try Self.config(Self.base)
        let changed = try Self.config(Self.base
            .replacingOccurrences(of: "capacity: 8GiB", with: "capacity: 12GiB")
            .replacingOccurrences(of: "8770", with: "8771")
            + "\nmax_body: 1MiB\nidle_timeout: 5s\nshutdown_grace: 1s\nauth: {token: abcdefghijklmnopqrstuvwxyz}\n")
        #expect(changed.keysNeedingRestart(running: running) == ["listen", "devices", "auth", "max_body", "idle_timeout", "shutdown_grace"])
        #expect(running.broker.reloaded(from: changed.broker) == running.broker, "none of them is taken up")
    }
}
