import Foundation
import Gateway
import Testing
import WebSocket

@Suite("Echo backpressure")
struct BackpressureTests {
    /// A client that sends without reading its echoes stops being read: TCP flow control reaches it long
    /// before it has sent everything it wanted to, and once it reads again every echo arrives intact.
    @Test func echoStopsReadingClientThatDoesNotRead() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.maxQueuedBytes = 256 * 1024 }
        let raw = try RawClient(port: server.port, receiveBuffer: 16 * 1024, sendBuffer: 64 * 1024)
        var pending = try raw.upgrade("/echo")
        let payload = [UInt8](repeating: 0xa5, count: 16 * 1024)
        let frame = clientFrame(0x82, payload)
        let cap = 64 << 20  // what an unbounded server would take in without complaint

        var sent = 0
        var stalledSince: Date?
        while sent < cap {
            let offset = sent % frame.count
            let written = try raw.sendAvailable(frame[offset...])
            if written > 0 {
                sent += written
                stalledSince = nil
                continue
            }
            let since = stalledSince ?? Date()
            stalledSince = since
            if Date().timeIntervalSince(since) > 0.5 { break }
            usleep(10_000)
        }
        #expect(sent < cap / 2, "the client wrote \(sent) bytes without reading: the gateway kept reading")

        // Finish the partial frame, then read every echo.
        let messages = (sent + frame.count - 1) / frame.count
        let connection = Connection(side: .client, configuration: .init(maxMessageSize: 1 << 20, autoPong: false))
        var received = 0
        let deadline = Date().addingTimeInterval(20)
        while received < messages && Date() < deadline {
            if sent % frame.count != 0 {
                sent += try raw.sendAvailable(frame[(sent % frame.count)...])
            }
            if pending.isEmpty { pending = try raw.receive(timeout: 5) }
            try #require(!pending.isEmpty, "the gateway closed the connection")
            connection.receive(pending)
            pending = []
            for event in connection.takeEvents() {
                #expect(event == .binary(payload))
                received += 1
            }
        }
        #expect(received == messages)
    }
}
