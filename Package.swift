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
            ]
        ),
        .target(
            name: "Workers",
            dependencies: [
                "Broker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
            ]
        ),
        .testTarget(name: "BrokerTests", dependencies: ["Broker"]),
        .testTarget(name: "WorkersTests", dependencies: ["Broker", "Workers"]),
        .testTarget(name: "GreenroomTestKitTests", dependencies: ["GreenroomTestKit", "Workers"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Broker", "Workers", "CommandLineAdvice", "GreenroomTestSupport",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ]
)
