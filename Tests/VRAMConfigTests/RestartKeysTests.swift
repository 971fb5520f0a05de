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

    @Test func settingsFixedAtStartAreNamed() throws {
        let running = try Self.config(Self.base)
        let changed = try Self.config(Self.base
            .replacingOccurrences(of: "max: 8", with: "max: 16")
            .replacingOccurrences(of: "capacity: 8GiB", with: "capacity: 12GiB")
            .replacingOccurrences(of: "requests: 4", with: "requests: 0")
            .replacingOccurrences(of: "8770", with: "8771"))
        #expect(changed.keysNeedingRestart(running: running) == ["listen", "devices", "queue.max", "policy.swap_quantum"])
    }
}
