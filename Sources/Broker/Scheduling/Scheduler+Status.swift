import Devices
import Foundation
import VRAMConfig
import VRAMPolicy

extension Scheduler {
    /// The whole picture for `GET /v1/status`, `/metrics` and the page.
    ///
    /// The ledger and the models are read in one step of the actor, so the numbers agree with
    /// each other; only the devices' own readings (free memory as the device reports it) are
    /// taken after, off the actor.
    public func statusReport() async -> StatusReport {
        var report = snapshot()
        let probes = report.devices.map { self.probes[DeviceID($0.id)] }
        for (index, probe) in probes.enumerated() {
            guard let reading = try? await probe?.read() else { continue }
            report.devices[index].name = reading.name
            report.devices[index].total = Int64(clamping: reading.total)
            report.devices[index].free = Int64(clamping: reading.free)
        }
        return report
    }

    /// Everything but the device readings, from the actor's state as it is now.
    private func snapshot() -> StatusReport {
        let wallNow = Date().timeIntervalSince1970
        let monotonicNow = clock.now
        let devices = ledger.devices.map { device -> StatusReport.Device in
            let residents = device.residents.values.sorted(by: ResidentModel.lruOrder).map {
                StatusReport.Share(model: $0.id.rawValue, bytes: $0.bytes, priority: $0.priority)
            }
            let reservations = ledger.models.values
                .filter { ledger.resident($0.id) == nil && ledger.reservationDevice(for: $0) == device.id }
                .sorted { $0.id < $1.id }
                .map { StatusReport.Share(model: $0.id.rawValue, bytes: $0.reservedWhileUnloaded, priority: $0.priority) }
            return StatusReport.Device(
                id: device.id.rawValue, kind: config.device(device.id)?.kind.rawValue ?? "unknown", name: nil, total: nil, free: nil,
                capacity: device.spec.capacity, cushion: device.spec.cushion, foreign: device.foreign,
                resident: device.residentBytes, reserved: device.reservedBytes, plannedUse: device.plannedUse,
                freeForPlanning: ledger.freeForPlanning(on: device.id), residents: residents, reservations: reservations)
        }
        let models = config.models.compactMap { model -> StatusReport.Model? in
            guard let runtime = runtimes[model.id] else { return nil }
            let expiresIn = runtime.state == .ready && runtime.inFlight == 0
                ? ledger.keepAliveExpiry(of: model.id).map { $0.since(now).seconds } : nil
            return StatusReport.Model(
                id: model.id.rawValue, kind: model.kind.rawValue, aliases: model.aliases, priority: model.priority,
                qos: model.qos.rawValue, pinned: model.pinned, state: runtime.state, device: runtime.device?.rawValue,
                footprint: runtime.footprint, footprintSource: runtime.footprintSource, inFlight: runtime.inFlight,
                queued: admission.perModel[model.id] ?? 0,
                lastUsedAt: runtime.lastUsed.map { wallNow - $0.duration(to: monotonicNow).seconds },
                keepAliveExpiresIn: expiresIn, keepAliveExpiresAt: expiresIn.map { wallNow + $0 },
                loadCount: runtime.loadCount, lastLoadSeconds: runtime.lastLoadDuration?.seconds,
                lastError: runtime.lastError, backend: model.backend?.typeName)
        }
        return StatusReport(generatedAt: wallNow, devices: devices, models: models,
                            queue: StatusReport.Queue(waiting: admission.total, max: admission.limit),
                            scheduler: StatusReport.Stats(stats))
    }
}

extension Scheduler {
    /// The file a process backend's output goes to (`<log_dir>/<model>.log`).
    ///
    /// - Throws: ``BrokerError`` when the model is unknown, is not a process backend (vramd
    ///   does not see other servers' output), or no log directory is configured.
    func logFile(of name: String) throws -> String {
        let id = try resolve(name)
        guard case .process = config.model(named: id.rawValue)?.backend else {
            throw BrokerError.badRequest("model '\(id)' is not a process backend: vramd does not hold its output", model: id.rawValue)
        }
        guard let directory = settings.logDirectory ?? settings.stateDirectory.map({ $0 + "/logs" }) else {
            throw BrokerError(code: "not_found", statusCode: 404, message: "no log_dir or state_dir is configured, so output is not kept", model: id.rawValue)
        }
        // Named as the process backend's OutputLog names it.
        return "\(directory)/\(String(id.rawValue.map { $0 == "/" || $0 == "\0" ? "_" : $0 })).log"
    }
}

extension Scheduler {
    /// The model's id when a request for `name` would have to wait for a load (loading
    /// feedback); `nil` when it is ready, or unknown (the request path reports that).
    func modelNeedingLoad(_ name: String) -> String? {
        guard let id = try? resolve(name), let runtime = runtimes[id], runtime.backend != nil else { return nil }
        return runtime.state == .ready && !runtime.stale ? nil : id.rawValue
    }
}
