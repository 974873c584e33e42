import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// What a handler saw, written on the gateway's thread and read by the test's.
final class HandlerRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var _opens: [Int] = []
    private var _closes: [(id: Int, code: CloseCode, reason: String)] = []
    private var _paths: [String] = []

    func opened(_ session: Session) {
        self.lock.withLock {
            self._opens.append(session.id)
            self._paths.append(session.path + (session.query.isEmpty ? "" : "?" + session.query))
        }
    }

    func closed(_ session: Session, _ code: CloseCode, _ reason: String) {
        self.lock.withLock { self._closes.append((session.id, code, reason)) }
    }

    var opens: [Int] { self.lock.withLock { self._opens } }
    var closes: [(id: Int, code: CloseCode, reason: String)] { self.lock.withLock { self._closes } }
    var paths: [String] { self.lock.withLock { self._paths } }
}

/// Upper-cases text, echoes binary reversed, and closes with 4001 when told "bye".
final class UpperHandler: SessionHandler {
    let record: HandlerRecord

    init(record: HandlerRecord) {
        self.record = record
    }

    func sessionDidOpen(_ session: Session) {
        self.record.opened(session)
        session.send(text: "welcome \(session.subprotocol ?? "-")")
    }

    func session(_ session: Session, didReceive message: Message) {
        switch message {
        case .text("bye"): session.close(code: CloseCode(4001), reason: "told to")
        case .text(let text) where text.hasPrefix("close "):
            session.close(code: CloseCode(UInt16(text.dropFirst(6))!), reason: "asked for \(text.dropFirst(6))")
        case .text(let text): session.send(text: text.uppercased())
        case .binary(let bytes): session.send(binary: bytes.reversed())
        }
    }

    func sessionDidClose(_ session: Session, code: CloseCode, reason: String) {
        self.record.closed(session, code, reason)
    }
}

@Suite("Embedding a custom handler")
struct EmbeddingTests {
    func makeServer(_ record: HandlerRecord) throws -> TestServer {
        try TestServer(routes: [Route("/upper", .custom(name: "upper") { _ in UpperHandler(record: record) })])
    }

    @Test func customHandlerServesAndSeesOneOpenAndOneClose() throws {
        let record = HandlerRecord()
        let server = try self.makeServer(record)
        let client = try server.connect("/upper")
        #expect(try client.receiveMessage() == .text("welcome -"))
        try client.send(text: "hello, wörld")
        #expect(try client.receiveMessage() == .text("HELLO, WÖRLD"))
        try client.send(binary: [1, 2, 3])
        #expect(try client.receiveMessage() == .binary([3, 2, 1]))
        try client.close(code: CloseCode(4321), reason: "done here")
        #expect(try client.waitForClose()?.code == CloseCode(4321))
        try client.waitForEOF()
        #expect(eventually { !record.closes.isEmpty })
        #expect(record.opens.count == 1)
        try #require(record.closes.count == 1)
        #expect(record.closes[0].id == record.opens[0])
        #expect(record.closes[0].code == CloseCode(4321))
        #expect(record.closes[0].reason == "done here")
        #expect(server.log.contains { $0.contains("event=session.open") && $0.contains("handler=upper") })
    }

    @Test func customHandlerClosesTheSession() throws {
        let record = HandlerRecord()
        let server = try self.makeServer(record)
        let client = try server.connect("/upper")
        _ = try client.receiveMessage()
        try client.send(text: "bye")
        let close = try client.waitForClose()
        #expect(close?.code == CloseCode(4001))
        #expect(close?.reason == "told to")
        try client.waitForEOF()
        #expect(eventually { record.closes.count == 1 })
        #expect(record.closes.first?.code == CloseCode(4001))
    }

    @Test func customHandlerSeesDroppedConnectionAs1006() throws {
        let record = HandlerRecord()
        let server = try self.makeServer(record)
        let client = try server.connect("/upper")
        _ = try client.receiveMessage()
        client.disconnect()
        #expect(eventually { record.closes.count == 1 })
        #expect(record.closes.first?.code == .abnormalClosure)
        #expect(record.opens.count == 1)
    }

    @Test func customHandlerSeesProtocolErrorCodeOnce() throws {
        let record = HandlerRecord()
        let server = try self.makeServer(record)
        let client = try server.connect("/upper")
        _ = try client.receiveMessage()
        try client.sendRaw(clientFrame(0x83, []))
        #expect(try client.waitForClose()?.code == .protocolError)
        try client.waitForEOF()
        #expect(eventually { !record.closes.isEmpty })
        usleep(50_000)
        #expect(record.closes.count == 1)
        #expect(record.closes.first?.code == .protocolError)
    }

    /// Each session gets its own handler instance, and shutdown tells every one of them once.
    @Test func everySessionGetsItsOwnHandlerAndShutdownClosesThemAll() throws {
        let record = HandlerRecord()
        let server = try self.makeServer(record)
        let clients = try (0..<5).map { _ in try server.connect("/upper") }
        for (index, client) in clients.enumerated() {
            _ = try client.receiveMessage()
            try client.send(text: "n\(index)")
            #expect(try client.receiveMessage() == .text("N\(index)"))
        }
        let stopping = ShutdownTests.Stopping(server)
        for client in clients {
            #expect(try client.waitForClose()?.code == .goingAway)
        }
        #expect(stopping.wait())
        #expect(Set(record.opens).count == 5)
        #expect(record.closes.count == 5)
        #expect(Set(record.closes.map(\.id)) == Set(record.opens))
        #expect(record.closes.allSatisfy { $0.code == .goingAway })
    }

    /// 1005, 1006 and 1015 stand for what happened to a connection and may never be sent (RFC 6455
    /// §7.4.1), nor may reserved codes: a handler asking for one must not bring the server down.
    /// 1005 ("no code") sends a close frame without a code; any other closes with 1011, and the log
    /// says what the handler asked for. The server goes on serving.
    @Test(arguments: [(1005, nil), (1006, 1011), (1015, 1011), (1004, 1011), (999, 1011), (2999, 1011),
                      (5000, 1011)] as [(UInt16, UInt16?)])
    func customHandlerClosingWithUnsendableCodeDoesNotStopTheServer(asked: UInt16, sent: UInt16?) throws {
        let record = HandlerRecord()
        let server = try self.makeServer(record)
        let client = try server.connect("/upper")
        _ = try client.receiveMessage()
        try client.send(text: "close \(asked)")
        let close = try #require(try client.waitForClose())
        #expect(close.code == sent.map { CloseCode($0) })
        #expect(close.reason == (sent == nil ? "" : "asked for \(asked)"))
        #expect(waitForLogLine(server, event: "session.unsendable_close_code", containing: "code=\(asked)") != nil)

        let next = try server.connect("/upper")
        #expect(try next.receiveMessage() == .text("welcome -"))
        try next.send(text: "still up")
        #expect(try next.receiveMessage() == .text("STILL UP"))
    }
}
