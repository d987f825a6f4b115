// swift-tools-version:6.0
//
// Greenroom: durable, distributed actors for Swift on Linux.
//
// Dependencies are kept lean because CI builds from a fresh clone on two cores:
// - swift-log: the logging API every server-side Swift library speaks.
// - swift-argument-parser: the `enqueue` and `worker` command lines.
// - swift-service-lifecycle: `WorkerRuntime` is a `Service`, so it runs in an
//   application's `ServiceGroup` (Hummingbird, Vapor) with graceful shutdown;
//   the `worker` process uses the same group for SIGTERM/SIGINT. It brings
//   swift-async-algorithms (and swift-collections): about a minute more of
//   first build on 2 cores.
// - swift-metrics and swift-distributed-tracing: the APIs the runtime reports
//   turns through (docs/OPERATIONS.md); an application picks the backends.
//   Both are small and have no dependencies of their own but
//   swift-service-context.
// - swift-prometheus: the worker's `/metrics` text (only `WorkerCommand`).
// - hummingbird: the HTTP server of the worker's `/metrics` and of
//   `enqueue dashboard`. The heaviest (SwiftNIO, 2.5-4.5 minutes of first
//   build on 2 cores); it already depends on swift-metrics, -tracing,
//   -log and -service-lifecycle, so it is one HTTP stack for both programs
//   rather than a hand-written one to keep safe. The `Workers` library does
//   not depend on it.
//
// CommandLineAdvice is the one piece both programs share: it turns Broker's
// errors (a code and context, no advice) into one line with what to do.
import PackageDescription

let package = Package(
    name: "greenroom",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Broker", targets: ["Broker"]),
        .library(name: "Workers", targets: ["Workers"]),
        .library(name: "GreenroomTestKit", targets: ["GreenroomTestKit"]),
        .executable(name: "worker", targets: ["worker"]),
        .executable(name: "enqueue", targets: ["enqueue"]),
        // Your own worker program: `WorkerCommand.main(hosting:)` (examples/custom-worker).
        .library(name: "WorkerCommand", targets: ["WorkerCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.9.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CAMQP",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "CRedis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "Broker",
            dependencies: [
                "CAMQP",
                "CRedis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CommandLineAdvice",
            dependencies: [
                "Broker",
                "Workers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Workers",
            dependencies: [
                "Broker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "WorkerCommand",
            dependencies: [
                "Broker",
                "CommandLineAdvice",
                "Workers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(name: "worker", dependencies: ["WorkerCommand", "CommandLineAdvice"]),
        // Test-only behaviours (probe) and fault injection: never in the
        // shipped library or the `worker`; `test-worker` hosts them for the
        // process tests.
        .target(name: "GreenroomTestSupport", dependencies: ["Workers"]),
        // Unit tests of behaviours without servers: the runtime's turn
        // semantics over actors in memory, on a virtual clock.
        .target(name: "GreenroomTestKit", dependencies: ["Workers"]),
        .executableTarget(name: "test-worker", dependencies: ["WorkerCommand", "CommandLineAdvice", "GreenroomTestSupport", "Workers"]),
        .executableTarget(
            name: "enqueue",
            dependencies: [
                "Broker",
                "CommandLineAdvice",
                "Workers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "BrokerTests", dependencies: ["Broker"]),
        .testTarget(name: "WorkersTests", dependencies: ["Broker", "Workers"]),
        .testTarget(name: "GreenroomTestKitTests", dependencies: ["GreenroomTestKit", "Workers"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Broker", "Workers", "CommandLineAdvice", "GreenroomTestSupport",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
