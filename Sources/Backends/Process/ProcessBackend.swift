#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Devices
import Foundation
import Logging
import Synchronization
import VRAMPolicy

/// A model served by a process vramd starts and stops (the llama-swap kind).
///
/// Loading starts the configured command on a free port in its own process group and polls its
/// readiness path; unloading sends SIGTERM to the group, then SIGKILL after `stop_timeout`. The
/// process's exit is reported on ``exits`` the moment it is reaped, with its last lines of output
/// (all output also goes to `<logDirectory>/<model>.log`).
public actor ProcessBackend: Backend {
    public nonisolated let model: ModelID
    public nonisolated let configuration: ProcessBackendConfiguration
    public nonisolated var management: BackendManagement { .vramd }
    public nonisolated let exits: AsyncStream<BackendExit>

    private struct Running {
        let child: ChildProcess
        let port: Int
        let placement: Placement
        let output: OutputLog
        let stopRequested: StopRequest
        var treePIDs: [Int32]
    }

    private nonisolated let exitContinuation: AsyncStream<BackendExit>.Continuation
    private let tools: BackendTools
    private var caller: HTTPCaller { tools.caller }
    private var clock: any Clock<Duration> { tools.clock }
    private var logger: Logger { tools.logger }
    private let logDirectory: String?
    private var running: Running?

    public var processID: Int32? { running?.child.pid }

    /// - Parameters:
    ///   - model: the configured model this backend serves.
    ///   - configuration: the `process` backend settings.
    ///   - logDirectory: where `<model>.log` collects the process's output; `nil` keeps only the
    ///     last lines in memory.
    ///   - httpClient: the client for readiness and health checks.
    ///   - clock: the clock timeouts and polling gaps run on.
    public init(model: ModelID, configuration: ProcessBackendConfiguration, logDirectory: String? = nil,
                httpClient: HTTPClient = .shared, clock: any Clock<Duration> = ContinuousClock(),
                logger: Logger = Logger(label: "vramd.backend.process")) {
        self.model = model
        self.configuration = configuration
        self.logDirectory = logDirectory
        tools = BackendTools(model: model, httpClient: httpClient, clock: clock, logger: logger)
        (exits, exitContinuation) = AsyncStream.makeStream(of: BackendExit.self)
    }

    /// The port of the running server, if one runs.
    public var port: Int? { live?.port }

    /// The running server, unless it has exited: the exit is reported on ``exits`` before the
    /// task that clears ``running`` gets to run, and a broker reacting to it must be able to load
    /// again at once.
    private var live: Running? {
        guard let running, running.child.exitStatus == nil else { return nil }
        return running
    }

    public func load(on placement: Placement) async throws -> LoadedModel {
        guard live == nil else { throw BackendError.alreadyLoaded(model) }
        let started = ContinuousClock.now
        let port = try FreePort.pick()
        let argv = configuration.command.map { substitute($0, port: port) }
        let output = OutputLog(model: model.rawValue, directory: logDirectory)
        output.note("starting \(argv.joined(separator: " ")) on port \(port)")
        let stopRequested = StopRequest()
        let child = try ChildProcess.spawn(
            argv, options: .init(environment: environment(port: port, placement: placement)),
            onOutputLine: output.append,
            onExit: { [model, logger, exitContinuation] pid, status in
                let exit = BackendExit(model: model, pid: pid, status: status, expected: stopRequested.isSet,
                                       lastLines: output.lastLines, logFile: output.path)
                if exit.expected {
                    logger.info("process exited", metadata: ["pid": "\(pid)", "status": "\(status)"])
                } else {
                    logger.error("process exited unexpectedly", metadata: [
                        "pid": "\(pid)", "status": "\(status)", "last_output": "\(exit.lastLines.suffix(5).joined(separator: " | "))",
                    ])
                }
                // Reported once this backend has forgotten the process: whoever hears of the
                // exit (the scheduler restarting a crashed model) must find it not loaded.
                Task {
                    await self.forget(pid)
                    exitContinuation.yield(exit)
                }
            })
        running = Running(child: child, port: port, placement: placement, output: output, stopRequested: stopRequested, treePIDs: [child.pid])
        logger.info("starting", metadata: ["pid": "\(child.pid)", "port": "\(port)", "device": "\(placement.device)"])

        switch try await readiness(of: child, url: "http://127.0.0.1:\(port)\(configuration.readyPath)") {
        case .ready:
            let usage = try? await placement.probe.usage(ofProcessTree: child.pid)
            if let usage, running?.child === child { running?.treePIDs = usage.pids }
            let took = started.duration(to: .now)
            logger.info("ready", metadata: [
                "pid": "\(child.pid)", "port": "\(port)", "load_ms": "\(took.nanoseconds / 1_000_000)",
                "footprint_mib": "\(usage.map { "\($0.bytes >> 20)" } ?? "unknown")",
            ])
            return LoadedModel(model: model, device: placement.device, endpoint: "http://127.0.0.1:\(port)", pid: child.pid,
                               footprint: usage?.bytes, loadDuration: took)
        case .exited(let status):
            forget(child.pid)
            throw BackendError.exitedDuringLoad(model, status, lastLines: output.lastLines)
        case .timedOut:
            logger.error("not ready within load_timeout; stopping it", metadata: ["timeout": "\(configuration.loadTimeout)"])
            _ = await stop(child, stopRequested)
            forget(child.pid)
            throw BackendError.loadTimedOut(model, after: configuration.loadTimeout, lastLines: output.lastLines)
        }
    }

    public func unload() async throws -> UnloadReport {
        guard let current = live else {
            return UnloadReport(wasLoaded: false, exit: running?.child.exitStatus, memoryReturned: true)
        }
        let probe = current.placement.probe
        let root = current.child.pid
        // Measured before the stop: the tree is gone after it.
        let last = try? await probe.usage(ofProcessTree: root)
        let pids = last?.pids ?? current.treePIDs
        let status = await stop(current.child, current.stopRequested)
        forget(root)
        let (returned, waited) = await Poll.until(timeout: configuration.memoryReturnTimeout, clock: clock) {
            try await Self.memoryReleased(by: pids, root: root, on: probe)
        }
        if !returned {
            logger.warning("device still shows the process's memory", metadata: ["waited": "\(waited)", "pids": "\(pids)"])
        }
        logger.info("unloaded", metadata: ["status": "\(status)", "memory_wait_ms": "\(waited.nanoseconds / 1_000_000)"])
        return UnloadReport(wasLoaded: true, exit: status, peakFootprint: last.map { $0.peakBytes ?? $0.bytes },
                            memoryReturned: returned, memoryWait: waited)
    }

    public func health() async -> BackendHealth {
        guard let current = live else { return .notLoaded }
        return await caller.health(HTTPCall(path: configuration.readyPath), at: "http://127.0.0.1:\(current.port)", model: model)
    }

    /// The most the process tree has held since it started (its peak, where the device reports
    /// one), which is what a later plan must count on: servers give memory back between requests.
    public func measuredFootprint() async throws -> UInt64? {
        guard let current = live, let usage = try await current.placement.probe.usage(ofProcessTree: current.child.pid) else { return nil }
        return max(usage.bytes, usage.peakBytes ?? 0)
    }

    // MARK: - Steps

    private enum Readiness: Sendable {
        case ready
        case exited(ExitStatus)
        case timedOut
    }

    /// Races the readiness poll against the child's exit and the load timeout. If the loading task
    /// is cancelled the child is stopped before the cancellation is passed on.
    private func readiness(of child: ChildProcess, url: String) async throws -> Readiness {
        let caller = caller, clock = clock, timeout = configuration.loadTimeout
        do {
            return try await withThrowingTaskGroup(of: Readiness?.self) { group in
                group.addTask {
                    try await caller.waitUntilReady(url: url, clock: clock)
                    return .ready
                }
                group.addTask { await child.exitUnlessCancelled().map { .exited($0) } }
                group.addTask {
                    try await clock.sleep(for: timeout)
                    return .timedOut
                }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    if let outcome { return outcome }
                }
                throw CancellationError()
            }
        } catch {
            if let current = running, current.child === child {
                _ = await stop(child, current.stopRequested)
                forget(child.pid)
            }
            throw error
        }
    }

    /// SIGTERM to the group, SIGKILL after `stop_timeout`, then SIGKILL to whatever of the group
    /// outlived its leader.
    private func stop(_ child: ChildProcess, _ stopRequested: StopRequest) async -> ExitStatus {
        stopRequested.set()
        child.signalGroup(SIGTERM)
        let exited = try? await Deadline.run(within: configuration.stopTimeout, clock: clock) {
            await child.exitUnlessCancelled()
        }
        var status: ExitStatus
        if let exited, let exited {
            status = exited
        } else {
            logger.warning("did not stop within stop_timeout; killing its process group", metadata: ["pid": "\(child.pid)"])
            child.signalGroup(SIGKILL)
            status = await child.waitForExit()
        }
        let stragglers = (try? await BlockingWork.run { child.liveGroupMembers }) ?? []
        if !stragglers.isEmpty {
            logger.warning("killing what is left of its process group", metadata: ["pids": "\(stragglers)"])
            child.signalGroup(SIGKILL)
            // They are not vramd's children, so there is no exit to wait for: watch them go.
            let (gone, _) = await Poll.until(timeout: .seconds(2), clock: clock) {
                try await BlockingWork.run { child.liveGroupMembers.isEmpty }
            }
            if !gone { logger.error("processes of its group survived SIGKILL", metadata: ["pids": "\(stragglers)"]) }
        }
        return status
    }

    private func forget(_ pid: Int32) {
        if running?.child.pid == pid { running = nil }
    }

    private func substitute(_ text: String, port: Int) -> String {
        text.replacingPlaceholder("PORT", with: "\(port)").replacingPlaceholder("MODEL_ID", with: model.rawValue)
    }

    /// vramd's environment, then the device's CUDA variables, then the configured `env`.
    private func environment(port: Int, placement: Placement) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let devices = placement.cudaVisibleDevices { environment["CUDA_VISIBLE_DEVICES"] = devices }
        for (name, value) in configuration.mps?.environment ?? [:] { environment[name] = value }
        for (name, value) in configuration.environment { environment[name] = substitute(value, port: port) }
        return environment
    }

    /// Whether the device no longer shows memory of the stopped tree: gone from its process list
    /// where it keeps one (NVML reports a process for a moment after it has exited), else no
    /// memory left in the tree.
    static func memoryReleased(by pids: [Int32], root: Int32, on probe: any DeviceProbe) async throws -> Bool {
        if let processes = try await probe.read().processes {
            let stopped = Set(pids)
            return !processes.contains { stopped.contains($0.pid) && ($0.bytes ?? 1) > 0 }
        }
        return try await probe.usage(ofProcessTree: root)?.bytes ?? 0 == 0
    }
}

/// Whether vramd asked a child to stop, so its exit can be told apart from a crash. Set by the
/// backend, read on the child's waiter thread.
final class StopRequest: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
