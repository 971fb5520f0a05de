/// Reads what a device really has: its memory, and who holds it.
///
/// Probes are cheap to call and safe to call from any task; the blocking work they do (reading
/// `/proc`, calling NVML, running `nvidia-smi`) happens off the cooperative thread pool.
public protocol DeviceProbe: Sendable {
    /// One reading of the device's memory.
    func read() async throws -> DeviceReading

    /// What the process `root` and all its descendants hold on this device.
    ///
    /// - Returns: the usage, or `nil` when this device cannot attribute memory to processes.
    ///   A tree with no live process reads as zero bytes, not `nil`.
    func usage(ofProcessTree root: Int32) async throws -> ProcessTreeUsage?
}

/// Why a probe could not read its device.
public struct DeviceProbeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in words a config check can print as it is.
    public var message: String

    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
