import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// Before the upgrade, a bad request gets the exact HTTP status, and the gateway keeps serving.
@Suite("HTTP refusals before the upgrade")
struct HTTPErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        let status: Int
        /// Headers the refusal must carry.
        var headers: [String: String] = [:]
        var testDescription: String { self.name }
    }

    static let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    static let cases: [Case] = [
        Case(name: "unknown path", request: upgradeRequest("/nope"), status: 404),
        Case(name: "unknown path with a query", request: upgradeRequest("/nope?echo"), status: 404),
        Case(name: "POST", request: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", status: 405,
             headers: ["Allow": "GET"]),
        Case(name: "plain GET of a route", request: "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", status: 426,
             headers: ["Upgrade": "websocket", "Sec-WebSocket-Version": "13"]),
        Case(name: "version 8",
             request: "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)"
                 + "Sec-WebSocket-Version: 8\r\n\r\n",
             status: 426, headers: ["Sec-WebSocket-Version": "13"]),
        Case(name: "malformed request line", request: "GARBAGE\r\n\r\n", status: 400),
        Case(name: "header without a colon", request: "GET /echo HTTP/1.1\r\nHost x\r\n\r\n", status: 400),
        Case(name: "bad key",
             request: "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 + "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
             status: 400),
        Case(name: "missing key",
             request: "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 + "Sec-WebSocket-Version: 13\r\n\r\n",
             status: 400),
        Case(name: "missing Host",
             request: "GET /echo HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)"
                 + "Sec-WebSocket-Version: 13\r\n\r\n",
             status: 400),
    ]

    @Test(arguments: cases)
    func serverRefusesWithExactStatus(_ refusal: Case) throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let response = try rawHTTP(port: server.port, refusal.request)
        #expect(statusCode(response) == refusal.status, "\(response)")
        for (name, value) in refusal.headers {
            #expect(header(name, in: response) == value, "\(name) in \(response)")
        }
        try expectStillServing(server)
    }

    @Test func serverRefusesOversizedHeadWith431() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.maxRequestHeadSize = 1024 }
        let padding = "X-Padding: " + String(repeating: "p", count: 2000) + "\r\n"
        let response = try rawHTTP(port: server.port, upgradeRequest("/echo", extra: padding))
        #expect(statusCode(response) == 431, "\(response)")
        // A head just under the limit is fine.
        let small = try server.connect("/echo")
        try small.send(text: "ok")
        #expect(try small.receiveMessage() == .text("ok"))
    }

    @Test func serverRefusesBeyondMaxConnectionsWith503() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.maxConnections = 2 }
        let first = try server.connect("/echo")
        let second = try server.connect("/echo")
        let response = try rawHTTP(port: server.port, upgradeRequest("/echo"))
        #expect(statusCode(response) == 503, "\(response)")
        #expect(throws: BlockingClient.Failure.self) { try server.connect("/echo") }
        _ = second

        // A slot frees when a client leaves.
        try first.close()
        #expect(try first.waitForClose()?.code == .normalClosure)
        try first.waitForEOF()
        var third: BlockingClient?
        #expect(eventually { third = try? server.connect("/echo"); return third != nil })
        try third?.send(text: "in")
        #expect(try third?.receiveMessage() == .text("in"))
    }

    /// Slow-loris: half a request is dropped once the handshake timeout passes, without a response.
    @Test func serverDropsIncompleteRequestAfterHandshakeTimeout() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.handshakeTimeout = .milliseconds(300) }
        let raw = try RawClient(port: server.port)
        let started = Date()
        try raw.send("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web")
        let rest = try raw.receiveUntilEOF(timeout: 5)
        let elapsed = Date().timeIntervalSince(started)
        #expect(rest.isEmpty)
        #expect(elapsed >= 0.25 && elapsed < 3, "closed after \(elapsed) s")
        #expect(server.log.contains { $0.contains("event=handshake.timeout") })
        try expectStillServing(server)
    }

    /// Trickling the head a byte at a time does not extend the deadline.
    @Test func serverDropsTricklingRequestAtHandshakeTimeout() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.handshakeTimeout = .milliseconds(300) }
        let raw = try RawClient(port: server.port)
        let started = Date()
        var closed = false
        for byte in upgradeRequest("/echo").utf8 {
            guard (try? raw.send([byte])) != nil else { break }
            if let chunk = try? raw.receive(timeout: 0.05) {
                #expect(chunk.isEmpty, "the gateway answered a half request")
                closed = true
                break
            }
        }
        #expect(closed, "still open after \(Date().timeIntervalSince(started)) s")
        #expect(Date().timeIntervalSince(started) < 5)  // the 300 ms deadline, not one per byte
    }

    /// Frames sent in the same segment as the request are not lost.
    @Test func serverProcessesFramesPipelinedWithTheRequest() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let raw = try RawClient(port: server.port)
        let request = Array(upgradeRequest("/echo").utf8)
        let early = try raw.upgradeSending(request + clientFrame(0x81, Array("early".utf8)) + clientFrame(0x82, [9]))
        var bytes = early
        #expect(eventually {
            bytes += (try? raw.receive(timeout: 0.05)) ?? []
            return serverEvents(bytes).count >= 2
        })
        #expect(serverEvents(bytes) == [.text("early"), .binary([9])])
    }

    /// The timeout is for the request head only: an open session is not bound by it.
    @Test func handshakeTimeoutDoesNotCloseOpenSessions() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.handshakeTimeout = .milliseconds(200) }
        let client = try server.connect("/echo")
        usleep(500_000)
        try client.send(text: "later")
        #expect(try client.receiveMessage() == .text("later"))
    }

    @Test func clientSeesRefusalStatus() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        do {
            _ = try server.connect("/missing")
            Issue.record("connected to a missing route")
        } catch let error as BlockingClient.Failure {
            guard case .handshake(_, let head) = error, case .response(_, let status, _) = head.startLine else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(status == 404)
        }
    }
}
