import Testing
@testable import WebSocket

@Suite("RFC 6455 §5.5.1 and §7.4 Close frames")
struct CloseFrameTests {
    static let allowedCodes: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
    static let forbiddenCodes: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]
    /// Registered with IANA after RFC 6455 for servers to send (service restart, try again later,
    /// bad gateway): a client takes them, a server keeps treating them as reserved.
    static let serverOnlyCodes: [UInt16] = [1012, 1013, 1014]

    @Test(arguments: bothSides, allowedCodes)
    func echoesAllowedCode(side: Connection.Side, code: UInt16) {
        let connection = Connection(side)
        connection.receive(incoming(.close(code, "bye"), to: side))
        #expect(connection.takeEvents() == [.close(CloseCode(code), "bye")])
        #expect(connection.takeOutput() == closeEcho(.close(code, "bye"), from: side))
    }

    @Test(arguments: bothSides, forbiddenCodes)
    func rejectsForbiddenCode(side: Connection.Side, code: UInt16) {
        let connection = Connection(side)
        connection.receive(incoming(.close(code), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.badCloseCode(code), from: side))
    }

    @Test(arguments: serverOnlyCodes)
    func clientAcceptsServerOnlyCode(code: UInt16) {
        let connection = Connection(.client)
        connection.receive(incoming(.close(code, "restart"), to: .client))
        #expect(connection.takeEvents() == [.close(CloseCode(code), "restart")])
        #expect(connection.takeOutput() == closeEcho(.close(code, "restart"), from: .client))
    }

    @Test(arguments: serverOnlyCodes)
    func serverRejectsServerOnlyCode(code: UInt16) {
        let connection = Connection(.server)
        connection.receive(incoming(.close(code), to: .server))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.badCloseCode(code), from: .server))
    }

    @Test(arguments: serverOnlyCodes)
    func serverSendsServerOnlyCode(code: UInt16) throws {
        let connection = Connection(.server)
        try connection.close(code: CloseCode(code), reason: "")
        #expect(connection.takeOutput() == [.bytes([0x88, 0x02, UInt8(code >> 8), UInt8(code & 0xFF)])])
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func echoesEmptyClose(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .close), to: side), chunking)
        #expect(connection.takeEvents() == [.close(nil, "")])
        #expect(connection.takeOutput() == closeEcho(Frame(opcode: .close), from: side))
    }

    @Test func serverEchoesEmptyCloseVector() {
        let server = Connection(.server)
        server.receive([0x88, 0x80, 0x3C, 0x3C, 0x3C, 0x3C])
        #expect(server.takeEvents() == [.close(nil, "")])
        #expect(server.takeOutput() == [.bytes([0x88, 0x00]), .endOfStream])
    }

    @Test(arguments: bothSides)
    func reportsNoStatusReceivedForEmptyClose(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .close), to: side))
        #expect(connection.closeCode == .noStatusReceived)
        #expect(connection.closeReason == "")
    }

    @Test(arguments: bothSides)
    func rejectsOneBytePayload(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .close, payload: [0x03]), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.oneByteClosePayload, from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func rejectsInvalidUTF8Reason(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .close, payload: [0x03, 0xE8, 0x61, 0xED, 0xA0, 0x80]), to: side), chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.invalidCloseReason, from: side))
    }

    @Test(arguments: bothSides)
    func acceptsMultiByteReason(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(.close(1001, "κόσμε 😀"), to: side), .byteAtATime)
        #expect(connection.takeEvents() == [.close(.goingAway, "κόσμε 😀")])
        #expect(connection.closeReason == "κόσμε 😀")
    }

    @Test func violationsMapToCloseCodes() {
        #expect(ProtocolViolation.invalidUTF8(at: 0).closeCode == .invalidData)
        #expect(ProtocolViolation.invalidCloseReason.closeCode == .invalidData)
        #expect(ProtocolViolation.messageTooBig(limit: 1).closeCode == .messageTooBig)
        #expect(ProtocolViolation.reservedOpcode(3).closeCode == .protocolError)
    }

    @Test(arguments: [ProtocolViolation.reservedBitsSet([.rsv1, .rsv2, .rsv3]), .reservedOpcode(15), .unmaskedFrame,
                      .maskedFrame, .fragmentedControlFrame, .controlFrameTooLong(65535), .lengthTooLarge,
                      .unexpectedContinuation, .expectedContinuation, .invalidUTF8(at: Int.max),
                      .messageTooBig(limit: Int.max), .oneByteClosePayload, .badCloseCode(65535), .invalidCloseReason])
    func violationReasonsFitInACloseFrame(violation: ProtocolViolation) {
        #expect(violation.reason.utf8.count <= 123)
        #expect(violation.closeCode.isAllowedOnWire)
    }
}

@Suite("RFC 6455 §7 Closing the connection")
struct ClosingTests {
    @Test(arguments: bothSides)
    func goesFromOpenThroughClosingToClosed(side: Connection.Side) {
        let connection = Connection(side)
        #expect(connection.state == .open && !connection.closeExpected)
        connection.receive(incoming(.close(1000), to: side))
        #expect(connection.state == .closing && connection.closeExpected)
        connection.receiveEOF()
        #expect(connection.state == .closed)
    }

    @Test func serverEndsStreamAfterClosingHandshake() {
        let server = Connection(.server)
        server.receive(incoming(.close(1000), to: .server))
        #expect(server.takeOutput() == [.bytes(hex("88 02 03 e8")), .endOfStream])
        #expect(server.closeExpected)
    }

    @Test func clientWaitsForServerToEndStream() {
        let client = Connection(.client)
        client.receive(incoming(.close(1000), to: .client))
        #expect(client.takeOutput() == [.bytes(outgoing(.close(1000), from: .client))])
        #expect(client.closeExpected && client.state == .closing)
    }

    @Test func clientEndsStreamWhenServerCloses() {
        let client = Connection(.client)
        client.receive(incoming(.close(1000), to: .client))
        _ = client.takeOutput()
        client.receiveEOF()
        #expect(client.takeOutput() == [.endOfStream])
        #expect(client.state == .closed)
    }

    @Test func serverEndsStreamOnlyOnce() {
        let server = Connection(.server)
        server.receive(incoming(.close(1000), to: .server))
        _ = server.takeOutput()
        server.receiveEOF()
        #expect(server.takeOutput() == [])
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func ignoresDataAfterClose(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(.close(1000), Frame(.text, "late"), Frame(.ping, ""), Frame(opcode: .continuation),
                                    to: side), chunking)
        connection.receive(incoming(Frame(.text, "later"), to: side))
        #expect(connection.takeEvents() == [.close(.normalClosure, "")])
        #expect(connection.takeOutput() == closeEcho(.close(1000), from: side))
    }

    @Test(arguments: bothSides)
    func peerCloseCompletesLocalClose(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.close(code: .goingAway, reason: "bye")
        #expect(connection.takeOutput() == [.bytes(outgoing(.close(1001, "bye"), from: side))])
        connection.receive(incoming(.close(1001, "bye"), to: side))
        #expect(connection.takeEvents() == [.close(.goingAway, "bye")])
        #expect(connection.takeOutput() == (side == .server ? [.endOfStream] : []))
    }

    @Test(arguments: bothSides)
    func receivesDataUntilPeerAnswersLocalClose(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.close()
        connection.receive(incoming(Frame(.text, "in flight"), .close(1000), to: side))
        #expect(connection.takeEvents() == [.text("in flight"), .close(.normalClosure, "")])
        #expect(connection.closeSent?.code == .normalClosure && connection.closeReceived?.code == .normalClosure)
    }

    @Test(arguments: bothSides)
    func sendAfterCloseThrows(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.close()
        #expect(throws: ConnectionStateError(operation: "send TEXT", state: .closing)) { try connection.send(text: "x") }
        #expect(throws: ConnectionStateError.self) { try connection.send(binary: [1]) }
        #expect(throws: ConnectionStateError.self) { try connection.sendPing() }
        #expect(throws: ConnectionStateError.self) { try connection.close() }
    }

    /// RFC 6455 §5.5.1 lets the reply to a close wait for the current message: replies to messages
    /// received before the close, sent while handling the events, go out ahead of the close reply.
    @Test(arguments: bothSides)
    func repliesSentBeforeTakingOutputPrecedeTheCloseReply(side: Connection.Side) throws {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "hi"), to: side) + incoming(.close(1000), to: side))
        #expect(connection.takeEvents() == [.text("hi"), .close(.normalClosure, "")])
        #expect(connection.state == .closing && connection.canSendData)
        try connection.send(text: "hi")
        let wire = connection.takeOutput().compactMap { output -> [UInt8]? in
            if case .bytes(let bytes) = output { return bytes }
            return nil
        }.joined()
        let peer = Connection(side == .server ? .client : .server)
        peer.receive(Array(wire))
        #expect(peer.takeEvents() == [.text("hi"), .close(.normalClosure, "")])
        #expect(!connection.canSendData)
    }

    @Test(arguments: bothSides)
    func sendAfterCloseReplyThrows(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(.close(1000), to: side))
        _ = connection.takeOutput()
        #expect(throws: ConnectionStateError.self) { try connection.send(text: "x") }
        connection.receiveEOF()
        #expect(throws: ConnectionStateError(operation: "send PONG", state: .closed)) { try connection.sendPong() }
    }

    @Test(arguments: bothSides)
    func peerEOFBeforeTheCloseReplyDropsIt(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(.close(1000), to: side))
        connection.receiveEOF()
        #expect(connection.takeOutput() == [.endOfStream])
    }

    @Test(arguments: bothSides)
    func doesNotAnswerPingAfterSendingClose(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.close()
        _ = connection.takeOutput()
        connection.receive(incoming(Frame(.ping, "p"), to: side))
        #expect(connection.takeEvents() == [.ping([0x70])])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func closeFrameFollowsQueuedData(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.send(text: "last words")
        try connection.close(code: nil)
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(.text, "last words"), Frame(opcode: .close), from: side))])
    }

    @Test(arguments: bothSides)
    func closeTruncatesLongReasonAtCharacterBoundary(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.close(code: .normalClosure, reason: String(repeating: "😀", count: 31))
        #expect(connection.closeSent?.reason == String(repeating: "😀", count: 30))
        #expect(connection.takeOutput() == [.bytes(outgoing(.close(1000, String(repeating: "😀", count: 30)), from: side))])
    }

    @Test func closeKeeps123ByteReason() throws {
        let server = Connection(.server)
        try server.close(code: .normalClosure, reason: String(repeating: "a", count: 120) + "€")
        #expect(server.closeSent?.reason.utf8.count == 123)
    }

    @Test(arguments: bothSides)
    func failSendsCodeAndDropsFurtherInput(side: Connection.Side) {
        let connection = Connection(side)
        connection.fail(code: .policyViolation, reason: "go away")
        connection.receive(incoming(Frame(.text, "ignored"), .close(1000), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == closeEcho(.close(1008, "go away"), from: side))
    }

    @Test(arguments: bothSides, [CloseCode.noStatusReceived, .abnormalClosure, CloseCode(1015)])
    func failWithCodeForbiddenOnWireSendsNoCloseFrame(side: Connection.Side, code: CloseCode) {
        let connection = Connection(side)
        connection.fail(code: code, reason: "dropped")
        #expect(connection.state == .closing && connection.closeSent == nil)
        #expect(connection.takeOutput() == [.endOfStream])
    }

    @Test(arguments: bothSides)
    func failAfterCloseSendsNoSecondCloseFrame(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.close()
        _ = connection.takeOutput()
        connection.fail(code: .internalError)
        #expect(connection.takeOutput() == (side == .server ? [.endOfStream] : []))
    }

    @Test(arguments: bothSides)
    func eofWithoutCloseFrameClosesAbnormally(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "Hel", fin: false), to: side))
        connection.receiveEOF()
        #expect(connection.state == .closed && connection.closeCode == nil)
        #expect(connection.takeOutput() == [.endOfStream])
    }
}
