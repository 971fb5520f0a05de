import Synchronization
import Testing
import VRAMPolicy
@testable import ModelCache

let GB: Int64 = 1 << 30

/// A time source the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(Instant.seconds(100))
    func now() -> Instant { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 = $0.advanced(by: duration) } }
}

/// A one-shot barrier: `wait()` suspends until `open()`.
actor Gate {
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }
    func open() {
        isOpen = true
        waiting.forEach { $0.resume() }
        waiting.removeAll()
    }
}

/// Records every call; loads can be held at a gate so tests control interleavings.
final class RecordingLoader: ModelLoader, Sendable {
    struct Model: Sendable, Hashable { var key: CacheKey; var generation: Int }

    let sizes: [ModelID: Int64]
    let keepAlive: KeepAlive
    let gate: Gate?
    let failing: Set<ModelID>
    private let log = Mutex<[String]>([])

    init(sizes: [ModelID: Int64], keepAlive: KeepAlive = .duration(.seconds(300)), gate: Gate? = nil, failing: Set<ModelID> = []) {
        self.sizes = sizes
        self.keepAlive = keepAlive
        self.gate = gate
        self.failing = failing
    }

    var calls: [String] { log.withLock { $0 } }

    func spec(for key: CacheKey) async throws -> ModelSpec {
        ModelSpec(id: key.model, kind: .llm, memory: sizes[key.model] ?? GB, keepAlive: keepAlive)
    }

    func load(_ key: CacheKey) async throws -> Model {
        let generation = log.withLock { log in
            log.append("load \(key)")
            return log.count
        }
        if let gate { await gate.wait() }
        if failing.contains(key.model) { throw LoadFailure() }
        return Model(key: key, generation: generation)
    }

    func unload(_ model: Model, key: CacheKey) async {
        log.withLock { $0.append("unload \(key)") }
    }

    struct LoadFailure: Error {}
}

@Suite struct ModelCacheTests {
    @Test func concurrentRequestsForOneKeyLoadOnce() async throws {
        let gate = Gate()
        let loader = RecordingLoader(sizes: ["m": 2 * GB], gate: gate)
        let cache = ModelCache(loader: loader, budget: 8 * GB)
        let models = try await withThrowingTaskGroup(of: RecordingLoader.Model.self) { group in
            for _ in 0..<10 { group.addTask { try await cache.model(for: CacheKey("m")) } }
            // Every request is either waiting on the load or about to join it before the gate opens.
            while await cache.stats.hits + cache.stats.misses < 10 { await Task.yield() }
            await gate.open()
            return try await group.reduce(into: [RecordingLoader.Model]()) { $0.append($1) }
        }
        #expect(loader.calls == ["load m#chat"])
        #expect(Set(models).count == 1)
        #expect(await cache.stats.misses == 1)
    }

    @Test func evictsTheLeastRecentlyUsedWhenFull() async throws {
        let clock = ManualClock()
        let loader = RecordingLoader(sizes: ["a": 4 * GB, "b": 4 * GB, "c": 4 * GB])
        let cache = ModelCache(loader: loader, budget: 10 * GB, now: clock.now)
        _ = try await cache.model(for: CacheKey("a"))
        clock.advance(.seconds(1))
        _ = try await cache.model(for: CacheKey("b"))
        clock.advance(.seconds(1))
        _ = try await cache.model(for: CacheKey("a"))   // a is now the most recent
        clock.advance(.seconds(1))
        _ = try await cache.model(for: CacheKey("c"))
        #expect(loader.calls == ["load a#chat", "load b#chat", "unload b#chat", "load c#chat"])
        let stats = await cache.stats
        #expect(Set(stats.entries) == [CacheKey("a"), CacheKey("c")])
        #expect(stats.residentBytes == 8 * GB)
        #expect(stats.evictions == 1 && stats.hits == 1 && stats.misses == 3)
    }

    @Test func entriesAreKeyedByMode() async throws {
        let loader = RecordingLoader(sizes: ["m": 1 * GB])
        let cache = ModelCache(loader: loader, budget: 8 * GB)
        let chat = try await cache.model(for: CacheKey("m", mode: .chat))
        let embed = try await cache.model(for: CacheKey("m", mode: .embed))
        #expect(chat != embed)
        #expect(loader.calls == ["load m#chat", "load m#embed"])
    }

    @Test func aModelInUseIsNotEvictedUntilReleased() async throws {
        let loader = RecordingLoader(sizes: ["a": 6 * GB, "b": 6 * GB])
        let cache = ModelCache(loader: loader, budget: 8 * GB)
        let release = Gate()
        let using = Task {
            try await cache.withModel(CacheKey("a")) { _ in await release.wait() }
        }
        while await cache.stats.entries.isEmpty { await Task.yield() }
        let loadingB = Task { try await cache.model(for: CacheKey("b")) }
        while await cache.waiterCount == 0 { await Task.yield() }
        #expect(loader.calls == ["load a#chat"], "b waits; a is in use")
        await release.open()
        try await using.value
        _ = try await loadingB.value
        #expect(loader.calls == ["load a#chat", "unload a#chat", "load b#chat"])
    }

    @Test func pressureHandlerSeesTheNumbersAndMayRefuse() async throws {
        let seen = Mutex<[MemoryPressure]>([])
        let loader = RecordingLoader(sizes: ["a": 6 * GB, "b": 4 * GB])
        let cache = ModelCache(loader: loader, budget: 8 * GB, onPressure: { pressure in
            seen.withLock { $0.append(pressure) }
            return false
        })
        _ = try await cache.model(for: CacheKey("a"))
        await #expect(throws: ModelCacheError.pressureRefused(CacheKey("b"))) {
            try await cache.model(for: CacheKey("b"))
        }
        #expect(seen.withLock { $0 } == [MemoryPressure(key: CacheKey("b"), requested: 4 * GB, available: 2 * GB, victims: [CacheKey("a")])])
        #expect(loader.calls == ["load a#chat"], "nothing was evicted")
    }

    @Test func expiredEntriesAreUnloaded() async throws {
        let clock = ManualClock()
        let loader = RecordingLoader(sizes: ["a": 1 * GB], keepAlive: .duration(.seconds(30)))
        let cache = ModelCache(loader: loader, budget: 8 * GB, now: clock.now)
        _ = try await cache.model(for: CacheKey("a"))
        clock.advance(.seconds(29))
        #expect(await cache.evictExpired() == [])
        clock.advance(.seconds(1))
        #expect(await cache.evictExpired() == [CacheKey("a")])
        #expect(loader.calls == ["load a#chat", "unload a#chat"])
        #expect(await cache.stats.expirations == 1)
    }

    @Test func tooLargeIsRejectedAndAFailedLoadFreesItsRoom() async throws {
        let loader = RecordingLoader(sizes: ["huge": 20 * GB, "bad": 6 * GB, "ok": 6 * GB], failing: ["bad"])
        let cache = ModelCache(loader: loader, budget: 8 * GB)
        await #expect(throws: ModelCacheError.self) { try await cache.model(for: CacheKey("huge")) }
        await #expect(throws: RecordingLoader.LoadFailure.self) { try await cache.model(for: CacheKey("bad")) }
        _ = try await cache.model(for: CacheKey("ok"))
        let stats = await cache.stats
        #expect(stats.loadFailures == 1 && stats.loads == 1)
        #expect(stats.entries == [CacheKey("ok")])
    }

    @Test func explicitUnloadFreesTheEntry() async throws {
        let loader = RecordingLoader(sizes: ["a": 1 * GB])
        let cache = ModelCache(loader: loader, budget: 8 * GB)
        _ = try await cache.model(for: CacheKey("a"))
        await cache.unload(CacheKey("a"))
        #expect(await cache.stats.residentBytes == 0)
        #expect(loader.calls == ["load a#chat", "unload a#chat"])
    }
}
