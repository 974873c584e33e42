import Client
import Gateway
import Testing
import WebSocket

/// A bad frame from one client gets the close code that names the fault, and the gateway goes on serving.
@Suite("Protocol violations close with the right code")
struct ProtocolViolationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let code: CloseCode
        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(name: "unmasked frame", bytes: clientFrame(0x81, Array("hi".utf8), masked: false), code: .protocolError),
        Case(name: "reserved data opcode 0x3", bytes: clientFrame(0x83, []), code: .protocolError),
        Case(name: "reserved control opcode 0xB", bytes: clientFrame(0x8B, []), code: .protocolError),
        Case(name: "RSV1 without an extension", bytes: clientFrame(0xC1, Array("hi".utf8)), code: .protocolError),
        Case(name: "RSV2", bytes: clientFrame(0xA1, Array("hi".utf8)), code: .protocolError),
        Case(name: "RSV3", bytes: clientFrame(0x91, Array("hi".utf8)), code: .protocolError),
        Case(name: "invalid UTF-8", bytes: clientFrame(0x81, [0x68, 0xff, 0x69]), code: .invalidData),
        Case(name: "UTF-8 surrogate", bytes: clientFrame(0x81, [0xed, 0xa0, 0x80]), code: .invalidData),
        Case(name: "invalid UTF-8 across fragments",
             bytes: clientFrame(0x01, [0xce]) + clientFrame(0x80, [0x41]), code: .invalidData),
        Case(name: "continuation without a start", bytes: clientFrame(0x80, [0x41]), code: .protocolError),
        Case(name: "new message inside a fragmented one",
             bytes: clientFrame(0x01, [0x41]) + clientFrame(0x81, [0x42]), code: .protocolError),
        Case(name: "fragmented ping", bytes: clientFrame(0x09, []), code: .protocolError),
        Case(name: "ping payload of 126 bytes", bytes: clientFrame(0x89, [UInt8](repeating: 1, count: 126)),
             code: .protocolError),
        Case(name: "close code 1005", bytes: clientFrame(0x88, closePayload(1005)), code: .protocolError),
        Case(name: "close code 999", bytes: clientFrame(0x88, closePayload(999)), code: .protocolError),
        Case(name: "close code 1006", bytes: clientFrame(0x88, closePayload(1006)), code: .protocolError),
        Case(name: "close code 5000", bytes: clientFrame(0x88, closePayload(5000)), code: .protocolError),
        Case(name: "close payload of one byte", bytes: clientFrame(0x88, [0x03]), code: .protocolError),
        Case(name: "close reason not UTF-8", bytes: clientFrame(0x88, closePayload(1000) + [0xff]),
             code: .invalidData),
    ]

    @Test(arguments: cases)
    func serverClosesWithCodeNamingTheFault(_ violation: Case) throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let client = try server.connect("/echo")
        try client.sendRaw(violation.bytes)
        #expect(try client.waitForClose()?.code == violation.code)
        try client.waitForEOF()
        try expectStillServing(server)
    }

    @Test func serverClosesOversizedMessageWith1009() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.maxMessageSize = 1024 }
        let fits = try server.connect("/echo")
        let limit = String(repeating: "a", count: 1024)
        try fits.send(text: limit)
        #expect(try fits.receiveMessage() == .text(limit))

        let client = try server.connect("/echo")
        try client.send(text: limit + "a")
        #expect(try client.waitForClose()?.code == .messageTooBig)
        try client.waitForEOF()
        try expectStillServing(server)
    }

    @Test func serverClosesOversizedFragmentedMessageWith1009() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.maxMessageSize = 1024 }
        let client = try server.connect("/echo")
        for index in 0..<4 {
            try client.sendFragment(index == 0 ? .binary : .continuation, [UInt8](repeating: 7, count: 300), fin: false)
        }
        #expect(try client.waitForClose()?.code == .messageTooBig)
        try expectStillServing(server)
    }

    /// A frame header that announces more than the limit is refused before the payload arrives.
    @Test func serverClosesOnOversizedLengthBeforePayload() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)]) { $0.maxMessageSize = 1024 }
        let client = try server.connect("/echo")
        // 64-bit length of 1 GiB, mask key, and no payload at all.
        try client.sendRaw([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4])
        #expect(try client.waitForClose()?.code == .messageTooBig)
    }
}

/// A fresh client on `/echo` still gets its message back.
func expectStillServing(_ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let next = try server.connect("/echo")
    try next.send(text: "still here")
    #expect(try next.receiveMessage() == .text("still here"), sourceLocation: sourceLocation)
    try next.close()
    #expect(try next.waitForClose()?.code == .normalClosure, sourceLocation: sourceLocation)
}
