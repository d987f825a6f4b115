// swift-tools-version:6.0
//
// Your own Greenroom worker: copy this directory, point the dependency at
// Greenroom (a path here; a URL in your project), write your behaviours.
import PackageDescription

let package = Package(
    name: "custom-worker",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "greenroom", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "custom-worker", dependencies: [
            .product(name: "Workers", package: "greenroom"),
            .product(name: "WorkerCommand", package: "greenroom"),
        ]),
        .testTarget(name: "CustomWorkerTests", dependencies: [
            "custom-worker",
            .product(name: "GreenroomTestKit", package: "greenroom"),
        ]),
    ]
)
