// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "wsgate",
    products: [
        .library(name: "WebSocket", targets: ["WebSocket"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "Client", targets: ["Client"]),
        .executable(name: "wsgate", targets: ["wsgate"]),
    ],
    targets: [
        .target(name: "CGlibc", cSettings: [.define("_GNU_SOURCE")]),
        // zlib from the system for permessage-deflate (RFC 7692); Debian's zlib1g-dev.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "WebSocket", dependencies: ["CZlib"]),
        .target(name: "Reactor", dependencies: ["CGlibc"]),
        .target(name: "Gateway", dependencies: ["WebSocket", "Reactor"]),
        .target(name: "Client", dependencies: ["WebSocket", "Reactor"]),
        .executableTarget(name: "wsgate", dependencies: ["Gateway", "Client", "WebSocket", "Reactor"]),
        .executableTarget(name: "wsgate-core-bench", dependencies: ["WebSocket"]),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "Client", "WebSocket", "Reactor", "wsgate"]),
    ]
)
