import Glibc
import Synchronization
import Testing
@testable import Devices

@Suite struct ChildProcessTests {
    @Test(.timeLimit(.minutes(1)))
    func outputAndExitCodeArriveInOrder() async throws {
        let events = Mutex<[String]>([])
        let child = try ChildProcess.spawn(["sh", "-c", "echo one; echo two >&2; printf three; exit 3"],
                                           onOutputLine: { line in events.withLock { $0.append(line) } },
                                           onExit: { _, status in events.withLock { $0.append("exit: \(status)") } })
        #expect(await child.waitForExit() == .exited(3))
        #expect(events.withLock { $0 } == ["one", "two", "three", "exit: exited with status 3"])
    }

    @Test func missingProgramIsAnError() {
        #expect(throws: ChildProcessError.self) { try ChildProcess.spawn(["/nonexistent/program"]) }
        #expect(throws: ChildProcessError.self) { try ChildProcess.spawn([]) }
    }

    @Test(.timeLimit(.minutes(1)))
    func environmentIsTheOneGiven() async throws {
        let result = try await ChildProcess.run(["sh", "-c", "echo $VRAMD_PROBE:$HOME"], environment: ["VRAMD_PROBE": "yes", "PATH": "/usr/bin:/bin"])
        #expect(result.lines == ["yes:"])
    }

    /// The exit of a killed child is reported by the waiter thread, not found by polling: measure
    /// the time from the kill to the report.
    @Test(.timeLimit(.minutes(1)))
    func killIsSeenAtOnce() async throws {
        let output = OutputLines()
        let child = try output.spawn(["sh", "-c", "echo started; exec sleep 60"])
        var lines = output.stream.makeAsyncIterator()
        _ = await lines.next(startingWith: "started")
        let clock = ContinuousClock()
        let killed = clock.now
        kill(child.pid, SIGKILL)
        let status = await child.waitForExit()
        let seenAfter = killed.duration(to: clock.now)
        #expect(status.signal == SIGKILL)
        // Typically well under 20 ms; the bound allows for a loaded machine.
        #expect(seenAfter < .seconds(1), "exit seen after \(seenAfter)")
    }

    @Test(.timeLimit(.minutes(1)))
    func groupSignalReachesGrandchildren() async throws {
        let output = OutputLines()
        let child = try output.spawn(["sh", "-c", "sleep 60 & sleep 60 & echo spawned; wait"])
        var lines = output.stream.makeAsyncIterator()
        _ = await lines.next(startingWith: "spawned")
        let tree = ProcessTree.read(root: child.pid)
        #expect(tree.pids.count == 3)
        #expect(Set(child.liveGroupMembers) == Set(tree.pids))
        child.signalGroup(SIGKILL)
        #expect(await child.waitForExit().signal == SIGKILL)
        // The grandchildren are not ours to wait for; SIGKILL ends them within moments, and the
        // time limit bounds this check.
        while !child.liveGroupMembers.isEmpty {
            await Task.yield()
        }
    }
}
