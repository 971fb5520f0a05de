// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "vramd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vramd", targets: ["vramd"]),
        .library(name: "VRAMPolicy", targets: ["VRAMPolicy"]),
        .library(name: "GGUF", targets: ["GGUF"]),
        .library(name: "ModelCache", targets: ["ModelCache"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The pure core: no I/O, no clock reads, no dependencies.
        .target(name: "VRAMPolicy"),
        .target(name: "GGUF"),
        // The policy as an in-process cache for Swift apps that hold models themselves.
        .target(name: "ModelCache", dependencies: ["VRAMPolicy"]),
        .target(
            name: "VRAMConfig",
            dependencies: ["VRAMPolicy", "GGUF", "Backends", .product(name: "Yams", package: "Yams")]
        ),
        // glibc's GNU extensions and NVML's run-time loading, in C.
        .target(name: "CShims"),
        .target(
            name: "Devices",
            dependencies: ["VRAMPolicy", "CShims", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Backends",
            dependencies: [
                "VRAMPolicy", "Devices",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // Request and body types of AsyncHTTPClient's API.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Broker",
            dependencies: [
                "VRAMPolicy", "VRAMConfig", "GGUF", "Devices", "Backends",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                // The connection's handlers: HTTP/1.0 framing sits at NIO's HTTP/1 level, the rest
                // at the framework's HTTPTypes level.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "vramd",
            dependencies: [
                "Broker", "VRAMConfig", "VRAMPolicy", "GGUF",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "vramd-bench",
            dependencies: ["VRAMPolicy", "GGUF"],
            path: "Benchmarks/VRAMBench"
        ),
        .testTarget(name: "VRAMPolicyTests", dependencies: ["VRAMPolicy"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"]),
        .testTarget(name: "ModelCacheTests", dependencies: ["ModelCache", "VRAMPolicy"]),
        .testTarget(name: "VRAMConfigTests", dependencies: ["VRAMConfig", "VRAMPolicy"]),
        .testTarget(
            name: "DevicesTests",
            dependencies: ["Devices", .product(name: "Logging", package: "swift-log")],
            // Recorded device outputs and helper programs, read from the source tree at run time.
            exclude: ["Fixtures", "Programs"]
        ),
        .testTarget(
            name: "BackendsTests",
            dependencies: ["Backends", "Devices", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            // The test HTTP server is a Python program run as a real process, not compiled.
            exclude: ["Servers"]
        ),
        // Unit tests of the broker's parts, and `vramd serve` run against real backend processes
        // (Python servers, not compiled).
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "Broker", "VRAMConfig", "VRAMPolicy", "Devices", "Backends", "vramd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["Servers"]
        ),
        .testTarget(name: "SoakTests", dependencies: ["Broker", "Backends", "Devices", "VRAMConfig", "VRAMPolicy"]),
        // Depends on the executable so `swift test` builds the binary the CLI tests run.
        .testTarget(
            name: "vramdTests",
            dependencies: [
                "vramd", "VRAMConfig", "Broker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Scripts"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The fuzz targets in Fuzz/ exist only when scripts/fuzz builds them (VRAMD_FUZZ=1): they need
// libFuzzer's main and coverage instrumentation, which no ordinary build may have. The code
// under test is instrumented too, or libFuzzer would be blind to the paths it takes.
if Context.environment["VRAMD_FUZZ"] != nil {
    let instrument: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    for target in package.targets where ["VRAMConfig", "VRAMPolicy"].contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + instrument
    }
    // libFuzzer's driver, started the same way by every target below.
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Support"))
    package.targets += ["ConfigFuzz", "RoutingFuzz"].map { name in
        .executableTarget(
            name: name, dependencies: ["FuzzSupport", "VRAMConfig", "VRAMPolicy"], path: "Fuzz/\(name)",
            swiftSettings: instrument + [.unsafeFlags(["-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]
        )
    }
}
