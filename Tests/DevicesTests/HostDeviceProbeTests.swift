import Glibc
import Testing
@testable import Devices

@Suite struct HostDeviceProbeTests {
    static let MiB: UInt64 = 1024 * 1024

    @Test func meminfoFixtureIsRead() throws {
        let reading = try HostDeviceProbe.reading(fromMeminfo: Fixture.text("meminfo"))
        #expect(reading.total == 24_576_000 * 1024)
        #expect(reading.free == 20_480_000 * 1024)
        #expect(reading.used == (24_576_000 - 20_480_000) * 1024)
        #expect(reading.processes == nil)
    }

    @Test func kernelsWithoutMemAvailableFallBackToFreePlusCache() throws {
        // Tabs as well as spaces separate the fields in /proc files.
        let reading = try HostDeviceProbe.reading(fromMeminfo: "MemTotal:\t1000 kB\nMemFree: 100 kB\nBuffers:\t 50 kB\nCached: 250 kB\n")
        #expect(reading.free == 400 * 1024)
    }

    @Test func meminfoWithoutTotalIsAnError() {
        #expect(throws: DeviceProbeError.self) { try HostDeviceProbe.reading(fromMeminfo: "MemFree: 1 kB\n") }
    }

    @Test func thisMachineIsRead() async throws {
        let reading = try await HostDeviceProbe().read()
        #expect(reading.total > 256 * Self.MiB)
        #expect(reading.free <= reading.total)
        #expect(reading.used == reading.total - reading.free)
    }

    @Test func statLineWithParenthesesInTheNameIsParsed() {
        #expect(ProcessTree.parentPID(fromStat: "4242 (odd (name) here) S 17 4242 4242 0 -1") == 17)
        #expect(ProcessTree.parentPID(fromStat: "garbage") == nil)
    }

    /// A real process tree allocates and writes 200 MiB in its grandchild; the tree's measured RSS
    /// must move by that much, and back when it is freed.
    @Test(.timeLimit(.minutes(1)))
    func treeRSSFollowsARealAllocation() async throws {
        let output = OutputLines()
        let root = try output.spawn([TestPrograms.python, TestPrograms.path("allocating_tree.py")],
                                    options: .init(pipeStandardInput: true))
        var lines = output.stream.makeAsyncIterator()
        let ready = try #require(await lines.next(startingWith: "child-ready"))
        let childPID = try #require(Int32(ready.split(separator: " ")[1]))
        let probe = HostDeviceProbe()

        let before = try #require(try await probe.usage(ofProcessTree: root.pid))
        #expect(before.pids == [root.pid, childPID])
        // Two Python interpreters hold a few MiB each.
        #expect(before.bytes > 4 * Self.MiB)

        try root.writeToStandardInput("alloc 200\n")
        #expect(await lines.next(startingWith: "allocated") == "allocated 200")
        let allocated = try #require(try await probe.usage(ofProcessTree: root.pid))
        let grown = Int64(allocated.bytes) - Int64(before.bytes)
        #expect(grown >= 195 * Int64(Self.MiB) && grown <= 215 * Int64(Self.MiB), "tree RSS grew by \(grown / Int64(Self.MiB)) MiB")
        // Anonymous memory is what the kernel counts as used: all of it here.
        let grownUsed = Int64(allocated.countedInUsed) - Int64(before.countedInUsed)
        #expect(grownUsed >= 195 * Int64(Self.MiB))
        #expect(try #require(allocated.peakBytes) >= allocated.bytes)
        // As a process vramd started, the tree's memory is vramd's, not foreign.
        let account = try await probe.account(cap: 1 << 50, managedRoots: [root.pid])
        #expect(account.managed >= 195 * Self.MiB)
        #expect(account.capacity == account.total, "a cap above the machine's memory is the machine's memory")
        #expect(account.headroom <= account.free + account.managed)

        try root.writeToStandardInput("free\n")
        #expect(await lines.next(startingWith: "freed") == "freed")
        let freed = try #require(try await probe.usage(ofProcessTree: root.pid))
        #expect(allocated.bytes - freed.bytes >= 190 * Self.MiB)
        #expect(try #require(freed.peakBytes) >= before.bytes + 195 * Self.MiB, "the high-water mark keeps the peak")

        root.closeStandardInput()
        #expect(await root.waitForExit() == .exited(0))
        let gone = try #require(try await probe.usage(ofProcessTree: root.pid))
        #expect(gone.pids.isEmpty)
        #expect(gone.bytes == 0)
    }
}
