import Client
import Foundation
import Gateway
import Testing
import WebSocket

@Suite("Graceful shutdown")
struct ShutdownTests {
    /// Runs `server.stop()` on another thread, since it blocks until the clients answer the close.
    final class Stopping: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private(set) var result: Bool?

        init(_ server: TestServer, timeout: Double = 10) {
            Thread.detachNewThread {
                self.result = server.stop(timeout: timeout)
                self.done.signal()
            }
        }

        /// Whether `stop` returned true within `timeout` seconds.
        func wait(timeout: Double = 10) -> Bool {
            self.done.wait(timeout: .now() + timeout) == .success && self.result == true
        }
    }

    @Test func stopClosesEveryOpenSessionWith1001ThenEOF() throws {
        let server = try TestServer(routes: [Route("/echo", .echo), Route("/room", .broadcast)])
        let clients = try (0..<3).map { _ in try server.connect("/echo") } + [try server.connect("/room")]
        let started = Date()
        let stopping = Stopping(server)
        for client in clients {
            let close = try client.waitForClose()
            #expect(close?.code == .goingAway)
            try client.waitForEOF()
        }
        #expect(stopping.wait())
        // All answered, so the shutdown did not wait for its timeout (5 s).
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(throws: BlockingClient.Failure.self) { try server.connect("/echo") }
    }

    /// A client that never answers the close is dropped after `shutdownTimeout`, and stop still returns.
    @Test func stopDropsUnresponsiveClientAfterShutdownTimeout() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.shutdownTimeout = .milliseconds(300) }
        let raw = try RawClient(port: server.port)
        let early = try raw.upgrade("/echo")
        let started = Date()
        let stopping = Stopping(server)
        #expect(stopping.wait(timeout: 5))
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.25 && elapsed < 3, "stop took \(elapsed) s")
        let events = serverEvents(early + (try raw.receiveUntilEOF(timeout: 2)))
        #expect(events == [.close(.goingAway, "going away")])
    }

    /// Half-open connections still in the handshake are not waited for.
    @Test func stopDropsConnectionsStillInHandshake() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let raw = try RawClient(port: server.port)
        try raw.send("GET /echo HTTP/1.1\r\n")
        _ = try? raw.receive(timeout: 0.1)  // let the server accept it
        let started = Date()
        #expect(server.stop(timeout: 10))
        #expect(Date().timeIntervalSince(started) < 4)  // not the 5 s shutdown timeout
        #expect(try raw.receiveUntilEOF(timeout: 2).isEmpty)
    }
}
