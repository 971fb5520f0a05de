/// One NVIDIA GPU as NVML or `nvidia-smi` describes it.
public struct NvidiaGPU: Sendable, Hashable {
    /// The driver's index (the order `nvidia-smi` lists, not necessarily CUDA's order).
    public var index: Int
    public var uuid: String
    public var name: String
    public var total: UInt64
    public var free: UInt64
    public var used: UInt64
    /// The compute processes on the GPU with what each holds; `nil` where the driver will not list
    /// them.
    public var processes: [ProcessMemory]?

    public init(index: Int, uuid: String, name: String, total: UInt64, free: UInt64, used: UInt64, processes: [ProcessMemory]?) {
        self.index = index
        self.uuid = uuid
        self.name = name
        self.total = total
        self.free = free
        self.used = used
        self.processes = processes
    }
}

/// A source of NVIDIA GPU figures: NVML in-process, or the `nvidia-smi` tool.
public protocol NvidiaQuery: Sendable {
    /// Where the figures come from, for logs and the config check (`NVML`, `nvidia-smi`).
    var sourceName: String { get }
    /// Every GPU the driver sees, with its memory and compute processes.
    func gpus() async throws -> [NvidiaGPU]
}

/// Which NVIDIA GPU a device is: by the driver's index or by UUID (stable across reboots and
/// driver reorderings, so the better choice in a config).
public struct NvidiaDeviceSelector: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case index(Int)
        case uuid(String)
    }

    private let kind: Kind

    public static func index(_ index: Int) -> NvidiaDeviceSelector { NvidiaDeviceSelector(kind: .index(index)) }
    public static func uuid(_ uuid: String) -> NvidiaDeviceSelector { NvidiaDeviceSelector(kind: .uuid(uuid)) }

    func matches(_ gpu: NvidiaGPU) -> Bool {
        switch kind {
        case .index(let index): gpu.index == index
        case .uuid(let uuid): gpu.uuid.lowercased() == uuid.lowercased()
        }
    }

    public var description: String {
        switch kind {
        case .index(let index): "index \(index)"
        case .uuid(let uuid): uuid
        }
    }
}
