// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "wsgate",
    products: [
        .library(name: "WebSocket", targets: ["WebSocket"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "Client", targets: ["Client"]),
        .library(name: "TLS", targets: ["TLS"]),
        .executable(name: "wsgate", targets: ["wsgate"]),
    ],
    targets: [
        .target(name: "CGlibc", cSettings: [.define("_GNU_SOURCE")]),
        // zlib from the system for permessage-deflate (RFC 7692); Debian's zlib1g-dev.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "WebSocket", dependencies: ["CZlib"]),
        // crypt(3) from libxcrypt for htpasswd files (bcrypt, sha512-crypt, yescrypt); Debian's libcrypt-dev.
        .systemLibrary(name: "CCrypt", pkgConfig: "libxcrypt", providers: [.apt(["libcrypt-dev"])]),
        .target(name: "Reactor", dependencies: ["CGlibc", "CCrypt"]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "TLS", dependencies: ["COpenSSL", "Reactor"]),
        .target(name: "Gateway", dependencies: ["WebSocket", "Reactor", "TLS"]),
        .target(name: "Client", dependencies: ["WebSocket", "Reactor", "TLS"]),
        .executableTarget(name: "wsgate", dependencies: ["Gateway", "Client", "WebSocket", "Reactor", "TLS"]),
        .executableTarget(name: "wsgate-core-bench", dependencies: ["WebSocket"]),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "Client", "WebSocket", "Reactor", "wsgate"]),
    ]
)
