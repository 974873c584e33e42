import Client
import Foundation
import Gateway
import Testing
import WebSocket

@Suite("Fragmentation, ping/pong and keepalive")
struct ControlFrameTests {
    @Test func serverReassemblesFragmentedText() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let client = try server.connect("/echo")
        let text = "héllo wörld ✓ 𝄞"
        let bytes = Array(text.utf8)
        // Split inside multi-byte characters, with an empty fragment in the middle.
        let cuts = [0, 2, 3, 3, 14, bytes.count]
        for index in 0..<(cuts.count - 1) {
            let piece = Array(bytes[cuts[index]..<cuts[index + 1]])
            try client.sendFragment(index == 0 ? .text : .continuation, piece, fin: index == cuts.count - 2)
        }
        #expect(try client.receiveMessage() == .text(text))
    }

    @Test func serverReassemblesFragmentedBinaryWithPingsBetween() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let client = try server.connect("/echo")
        let whole = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try client.sendFragment(.binary, Array(whole[0..<70_000]), fin: false)
        try client.sendPing([1, 2, 3])
        try client.sendFragment(.continuation, Array(whole[70_000..<70_001]), fin: false)
        try client.sendFragment(.continuation, Array(whole[70_001...]), fin: true)
        // The pong answers in the middle of the message, so it comes before the echo.
        #expect(try client.nextEvent() == .pong([1, 2, 3]))
        #expect(try client.nextEvent() == .binary(whole))
    }

    @Test(arguments: [0, 1, 125])
    func serverAnswersPingWithSamePayload(size: Int) throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let client = try server.connect("/echo")
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
        try client.sendPing(payload)
        #expect(try client.nextEvent() == .pong(payload))
    }

    /// An unsolicited pong is allowed and ignored.
    @Test func serverIgnoresUnsolicitedPong() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let client = try server.connect("/echo")
        try client.sendRaw(clientFrame(0x8A, Array("hb".utf8)))
        try client.send(text: "next")
        #expect(try client.nextEvent() == .text("next"))
    }

    /// A client that ignores pings is closed with 1011; one that answers them stays open meanwhile.
    @Test func keepaliveClosesSilentClientAndKeepsAnsweringOne() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) {
            // The timeout is generous: on a loaded machine the answering client may not read for a
            // while, and that must not look like silence.
            $0.pingInterval = .milliseconds(200)
            $0.pingTimeout = .seconds(1)
        }
        var deaf = BlockingClient.Options()
        deaf.autoPong = false
        let silent = try server.connect("/echo", options: deaf)
        let alive = try server.connect("/echo")

        // Pump the answering client for longer than interval + timeout, so its pongs go out.
        var pings = 0
        let until = Date().addingTimeInterval(2)
        while Date() < until {
            // A timeout is expected between pings; any other failure shows in the echo below.
            if case .ping? = try? alive.nextEvent(timeout: .milliseconds(50)) { pings += 1 }
        }
        #expect(pings >= 2, "the answering client saw \(pings) pings")
        try alive.send(text: "still open")
        #expect(try alive.receiveMessage() == .text("still open"))

        var sawPing = false
        var close: (code: CloseCode?, reason: String)?
        while let event = try silent.nextEvent(timeout: .seconds(10)) {
            if case .ping = event { sawPing = true }
            if case .close(let code, let reason) = event {
                close = (code, reason)
                break
            }
        }
        #expect(sawPing)
        #expect(close?.code == .internalError)
        #expect(server.log.contains { $0.contains("event=session.keepalive_timeout") })
    }

    /// Traffic from the client counts as alive: a client sending messages is never pinged out.
    @Test func keepaliveSparesBusyClientEvenWithoutPongs() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) {
            // Interval + timeout (1.5 s) is far longer than any gap between messages, even on a
            // loaded machine; the test still spans several intervals.
            $0.pingInterval = .milliseconds(300)
            $0.pingTimeout = .milliseconds(1200)
        }
        var deaf = BlockingClient.Options()
        deaf.autoPong = false
        let client = try server.connect("/echo", options: deaf)
        for index in 0..<20 {
            try client.send(text: "\(index)")
            #expect(try client.receiveMessage() == .text("\(index)"))
            usleep(60_000)
        }
        #expect(!server.log.contains { $0.contains("event=session.keepalive_timeout") })
    }

    @Test func idleTimeoutClosesWith1001() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.idleTimeout = .milliseconds(300) }
        let client = try server.connect("/echo")
        let started = Date()
        #expect(try client.waitForClose()?.code == .goingAway)
        #expect(Date().timeIntervalSince(started) >= 0.25)
    }

    /// A ping in the same segment as the request is answered after the 101, never before it: the
    /// pong may pass queued messages but not the HTTP response. Pings of a later read, while the
    /// 101 is still unwritten, cannot be set up from outside; the queue's own tests cover that.
    @Test func serverWrites101BeforePongToPingSentWithTheRequest() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let raw = try RawClient(port: server.port)
        let request = Array(upgradeRequest("/echo").utf8)
        let pipelined = clientFrame(0x89, [1, 2, 3]) + clientFrame(0x81, Array("early".utf8)) + clientFrame(0x89, [4])
        var bytes = try raw.upgradeSending(request + pipelined)
        #expect(eventually {
            bytes += (try? raw.receive(timeout: 0.05)) ?? []
            return serverEvents(bytes).count >= 3
        })
        #expect(serverEvents(bytes) == [.pong([1, 2, 3]), .pong([4]), .text("early")])
    }
}
