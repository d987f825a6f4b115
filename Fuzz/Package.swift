// swift-tools-version:6.0
//
// libFuzzer targets for Greenroom's parsers of untrusted input: the envelope
// check every delivery passes (Envelope.parse), the JSON validator, actor
// addresses and server URLs. A package of its own, so the normal build never
// sees them: scripts/fuzz builds it with `-sanitize=fuzzer -enable-testing`
// into .build-fuzz/ and runs each target for a bounded time from its seed
// corpus in Fuzz/Corpus/. Each target's main.swift hands its test function
// to libFuzzer's driver (FuzzDriver).
import PackageDescription

let package = Package(
    name: "greenroom-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "greenroom", path: ".."),
    ],
    targets: [
        .target(name: "CFuzzDriver", path: "Targets/CFuzzDriver"),
        .target(name: "FuzzDriver", dependencies: ["CFuzzDriver"], path: "Targets/FuzzDriver"),
        .executableTarget(name: "FuzzEnvelope", dependencies: ["FuzzDriver",
            .product(name: "Broker", package: "greenroom"), .product(name: "Workers", package: "greenroom"),
        ], path: "Targets/FuzzEnvelope"),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzDriver",
            .product(name: "Workers", package: "greenroom"),
        ], path: "Targets/FuzzJSON"),
        .executableTarget(name: "FuzzAddress", dependencies: ["FuzzDriver",
            .product(name: "Workers", package: "greenroom"),
        ], path: "Targets/FuzzAddress"),
        .executableTarget(name: "FuzzURL", dependencies: ["FuzzDriver",
            .product(name: "Broker", package: "greenroom"),
        ], path: "Targets/FuzzURL"),
    ]
)
