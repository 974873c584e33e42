import Testing
@testable import WebSocket

@Suite("RFC 6455 §5.4 Fragmentation")
struct FragmentationTests {
    @Test(arguments: bothSides, Chunking.allCases)
    func assemblesFragmentedBinary(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .binary, payload: [1, 2], fin: false),
                                    Frame(opcode: .continuation, payload: [], fin: false),
                                    Frame(opcode: .continuation, payload: [3]), to: side), chunking)
        #expect(connection.takeEvents() == [.binary([1, 2, 3])])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func answersPingInsideFragmentedMessage(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "Hel", fin: false), Frame(.ping, "p"), Frame(.continuation, "l", fin: false),
                                    Frame(.pong, "q"), Frame(.continuation, "o"), to: side), chunking)
        #expect(connection.takeEvents() == [.ping([0x70]), .pong([0x71]), .text("Hello")])
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(.pong, "p"), from: side))])
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func rejectsContinuationWithoutStart(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.continuation, "lo"), to: side), chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.unexpectedContinuation, from: side))
    }

    @Test(arguments: bothSides)
    func rejectsContinuationAfterCompleteMessage(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "Hel", fin: false), Frame(.continuation, "lo"), Frame(.continuation, "!"),
                                    to: side))
        #expect(connection.takeEvents() == [.text("Hello")])
        #expect(connection.takeOutput() == failure(.unexpectedContinuation, from: side))
    }

    @Test(arguments: bothSides, [Opcode.text, .binary])
    func rejectsNewMessageInsideFragmentedMessage(side: Connection.Side, opcode: Opcode) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "Hel", fin: false), Frame(opcode, "lo"), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.expectedContinuation, from: side))
    }

    @Test(arguments: bothSides)
    func closeInsideFragmentedMessageDropsIt(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "Hel", fin: false), Frame.close(1000), Frame(.continuation, "lo"),
                                    to: side))
        #expect(connection.takeEvents() == [.close(.normalClosure, "")])
        #expect(connection.takeOutput() == closeEcho(.close(1000), from: side))
    }

    @Test(arguments: bothSides)
    func sendsFragmentedMessageWithInterleavedPing(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.send(binary: [1], fin: false)
        try connection.sendPing([9])
        try connection.send(continuation: [2], fin: true)
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(opcode: .ping, payload: [9]), from: side)),
                                            .bytes(outgoing(Frame(opcode: .binary, payload: [1], fin: false),
                                                            Frame(opcode: .continuation, payload: [2]), from: side))])
    }

    @Test(arguments: bothSides)
    func refusesContinuationOutsideFragmentedMessage(side: Connection.Side) {
        let connection = Connection(side)
        #expect(throws: ConnectionStateError.self) { try connection.send(continuation: [1], fin: true) }
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func refusesNewMessageInsideFragmentedMessage(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.send(text: "a", fin: false)
        #expect(throws: ConnectionStateError.self) { try connection.send(text: "b") }
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(.text, "a", fin: false), from: side))])
    }
}

@Suite("RFC 6455 §8.1 Text messages are UTF-8")
struct TextValidationTests {
    static let invalid: [(name: String, bytes: [UInt8])] = [
        ("overlong slash", [0xC0, 0xAF]), ("overlong 3-byte", [0xE0, 0x80, 0xAF]),
        ("overlong 4-byte", [0xF0, 0x80, 0x80, 0xAF]), ("surrogate", [0xED, 0xA0, 0x80]),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]), ("lone continuation", [0x80]), ("FF", [0xFF]),
    ]

    @Test(arguments: bothSides, invalid.map(\.bytes))
    func rejectsInvalidText(side: Connection.Side, bytes: [UInt8]) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .text, payload: Array("ok".utf8) + bytes), to: side))
        #expect(connection.takeEvents() == [])
        #expect(sentCloseCode(connection.takeOutput(), from: side) == 1007)
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func failsFastOnInvalidByteInFirstFragment(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .text, payload: hex("ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65"),
                                          fin: false), to: side), chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.invalidUTF8(at: 12), from: side))
    }

    @Test(arguments: bothSides)
    func failsFastInsideAFrameWhosePayloadHasNotAllArrived(side: Connection.Side) {
        let connection = Connection(side)
        let bytes = incoming(Frame(opcode: .text, payload: [0x61, 0xC0] + Array(repeating: 0x61, count: 200)), to: side)
        connection.receive(bytes.prefix(bytes.count - 100))
        #expect(connection.takeOutput() == failure(.invalidUTF8(at: 1), from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func rejectsTruncatedSequenceAtEndOfMessage(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .text, payload: [0x61, 0xF0, 0x9F], fin: false),
                                    Frame(opcode: .continuation, payload: [0x98]), to: side), chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.invalidUTF8(at: 4), from: side))
    }

    @Test(arguments: bothSides)
    func rejectsTruncatedSequenceInSingleFrame(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .text, payload: [0x61, 0xE2, 0x82]), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.invalidUTF8(at: 3), from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func acceptsFourByteSequenceSplitAcrossFragments(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .text, payload: [0x61, 0xF0, 0x9F], fin: false),
                                    Frame(opcode: .continuation, payload: [0x98], fin: false),
                                    Frame(opcode: .continuation, payload: [0x80, 0x62]), to: side), chunking)
        #expect(connection.takeEvents() == [.text("a😀b")])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func acceptsMultiByteTextSplitAcrossChunks(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        let text = String(repeating: "κόσμε 😀 €, ", count: 40)
        connection.receive(incoming(Frame(.text, text), to: side), chunking)
        #expect(connection.takeEvents() == [.text(text)])
    }

    @Test(arguments: bothSides)
    func binaryIsNotValidated(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: .binary, payload: [0xFF, 0xC0]), to: side))
        #expect(connection.takeEvents() == [.binary([0xFF, 0xC0])])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func validatesTextAfterExtensionDecodes(side: Connection.Side) {
        let connection = Connection(side, extensions: [Rsv2Extension()])
        connection.receive(incoming(Frame(reservedBits: .rsv2, opcode: .text, payload: [0x80, 0xE2]), to: side))
        #expect(connection.takeEvents() == [])
        #expect(sentCloseCode(connection.takeOutput(), from: side) == 1007)
    }
}

@Suite("RFC 6455 §10.4 Maximum message size")
struct MessageSizeTests {
    @Test(arguments: bothSides, Chunking.allCases)
    func failsOnHeaderAnnouncingTooMuchBeforeThePayload(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side, maxMessageSize: 1000)
        let frame = incoming(Frame(opcode: .binary, payload: Array(repeating: 1, count: 1001)), to: side)
        connection.receive(Array(frame.prefix(side == .server ? 8 : 4)), chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.messageTooBig(limit: 1000), from: side))
    }

    @Test(arguments: bothSides)
    func failsOnHugeAnnouncedLength(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive(side == .server ? hex("82 FF 7F FF FF FF FF FF FF FF 37 fa 21 3d") : hex("82 7F 7F FF FF FF FF FF FF FF"))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.messageTooBig(limit: 1 << 20), from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func failsWhenFragmentsAddUpBeyondLimit(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side, maxMessageSize: 1000)
        connection.receive(incoming(Frame(opcode: .binary, payload: Array(repeating: 1, count: 600), fin: false),
                                    Frame(opcode: .continuation, payload: Array(repeating: 2, count: 401)), to: side), chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.messageTooBig(limit: 1000), from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func acceptsExactlyTheLimit(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side, maxMessageSize: 1000)
        connection.receive(incoming(Frame(opcode: .binary, payload: Array(repeating: 1, count: 1000)),
                                    Frame(opcode: .binary, payload: Array(repeating: 1, count: 600), fin: false),
                                    Frame(opcode: .continuation, payload: Array(repeating: 1, count: 400)), to: side), chunking)
        #expect(connection.takeEvents() == [.binary(Array(repeating: 1, count: 1000)), .binary(Array(repeating: 1, count: 1000))])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func controlFramesDoNotCountTowardsTheLimit(side: Connection.Side) {
        let connection = Connection(side, maxMessageSize: 10)
        connection.receive(incoming(Frame(opcode: .binary, payload: Array(repeating: 1, count: 10), fin: false),
                                    Frame(opcode: .ping, payload: Array(repeating: 2, count: 100)),
                                    Frame(opcode: .continuation, payload: []), to: side))
        #expect(connection.takeEvents() == [.ping(Array(repeating: 2, count: 100)), .binary(Array(repeating: 1, count: 10))])
    }
}
