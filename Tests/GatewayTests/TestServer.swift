import Client
import Foundation
import Gateway
import Reactor
import WebSocket

/// A gateway running in this process on its own thread, on a free loopback port.
///
/// websocketd's harness shape: `let server = try TestServer(routes: [Route("/echo", .echo)])`,
/// `let client = try server.connect("/echo")`. Readiness is proven by the bound port being known,
/// which `GatewayServer.init` binds before `run`. `stop()` shuts down gracefully and waits, bounded.
final class TestServer: @unchecked Sendable {
    let port: UInt16
    private let stopHandle: StopHandle
    private let finished = DispatchSemaphore(value: 0)
    private let logLines = LogLines()

    init(routes: [Route], configure: (inout GatewayServer.Configuration) -> Void = { _ in }) throws {
        var configuration = GatewayServer.Configuration()
        configuration.addresses = ["127.0.0.1"]
        configuration.port = 0
        configuration.routes = routes
        let lines = self.logLines
        configuration.log = Log(level: .debug) { line in lines.append(line) }
        configure(&configuration)
        let ready = DispatchSemaphore(value: 0)
        let box = StartBox()
        let finished = self.finished
        let frozen = UnsafeTransfer(configuration)
        Thread.detachNewThread {
            do {
                let server = try GatewayServer(configuration: frozen.value)
                box.port = server.boundAddresses[0].port
                box.stopHandle = server.shutdownHandle
                ready.signal()
                try server.run()
            } catch {
                box.error = error
                ready.signal()
            }
            finished.signal()
        }
        guard ready.wait(timeout: .now() + 10) == .success else { throw TestFailure("server did not start") }
        if let error = box.error { throw error }
        self.port = box.port
        self.stopHandle = box.stopHandle!
    }

    deinit {
        self.stop()
    }

    var url: String { "ws://127.0.0.1:\(self.port)" }

    func connect(_ target: String, options: BlockingClient.Options = .init()) throws -> BlockingClient {
        try BlockingClient(url: self.url + target, options: options)
    }

    /// Shuts down gracefully; returns whether `run()` returned within `timeout` seconds.
    @discardableResult
    func stop(timeout: Double = 10) -> Bool {
        self.stopHandle.stop()
        let done = self.finished.wait(timeout: .now() + timeout) == .success
        if done { self.finished.signal() }  // later calls return at once
        return done
    }

    var log: [String] { self.logLines.all }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Moves a non-Sendable value to the server thread, which alone uses it afterwards.
struct UnsafeTransfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

final class StartBox: @unchecked Sendable {
    var port: UInt16 = 0
    var stopHandle: StopHandle?
    var error: (any Error)?
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { self.lock.withLock { self.lines.append(line) } }
    var all: [String] { self.lock.withLock { self.lines } }
}

/// Sends a raw HTTP request over a plain socket and returns the whole response (until the server closes).
func rawHTTP(port: UInt16, _ request: String, timeout: Double = 5) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket failed") }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TestFailure("connect failed") }
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: response, as: UTF8.self)
}
