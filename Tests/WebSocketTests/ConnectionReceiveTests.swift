import Testing
@testable import WebSocket

@Suite("RFC 6455 §5.7 Examples")
struct RFCExampleTests {
    @Test(arguments: Chunking.allCases)
    func clientReceivesUnmaskedHello(chunking: Chunking) {
        let client = Connection(.client)
        client.receive(hex("81 05 48 65 6c 6c 6f"), chunking)
        #expect(client.takeEvents() == [.text("Hello")])
        #expect(client.takeOutput() == [])
    }

    @Test(arguments: Chunking.allCases)
    func serverReceivesMaskedHello(chunking: Chunking) {
        let server = Connection(.server)
        server.receive(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), chunking)
        #expect(server.takeEvents() == [.text("Hello")])
        #expect(server.takeOutput() == [])
    }

    @Test(arguments: Chunking.allCases)
    func clientReceivesFragmentedHello(chunking: Chunking) {
        let client = Connection(.client)
        client.receive(hex("01 03 48 65 6c 80 02 6c 6f"), chunking)
        #expect(client.takeEvents() == [.text("Hello")])
        #expect(client.takeOutput() == [])
    }

    @Test(arguments: Chunking.allCases)
    func clientAnswersUnmaskedPingWithMaskedPong(chunking: Chunking) {
        let client = Connection(.client)
        client.receive(hex("89 05 48 65 6c 6c 6f"), chunking)
        #expect(client.takeEvents() == [.ping(Array("Hello".utf8))])
        #expect(client.takeOutput() == [.bytes(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"))])
    }

    @Test(arguments: Chunking.allCases)
    func serverReceivesMaskedPong(chunking: Chunking) {
        let server = Connection(.server)
        server.receive(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), chunking)
        #expect(server.takeEvents() == [.pong(Array("Hello".utf8))])
        #expect(server.takeOutput() == [])
    }

    @Test(arguments: Chunking.allCases)
    func clientReceives256ByteBinary(chunking: Chunking) {
        let client = Connection(.client)
        let payload = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        client.receive(hex("82 7E 01 00") + payload, chunking)
        #expect(client.takeEvents() == [.binary(payload)])
    }

    @Test(arguments: Chunking.allCases)
    func clientReceives64KiBBinary(chunking: Chunking) {
        let client = Connection(.client)
        let payload = (0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) }
        client.receive(hex("82 7F 00 00 00 00 00 01 00 00") + payload, chunking)
        #expect(client.takeEvents() == [.binary(payload)])
    }

    @Test func serverEncodesUnmaskedHello() throws {
        let server = Connection(.server)
        try server.send(text: "Hello")
        #expect(server.takeOutput() == [.bytes(hex("81 05 48 65 6c 6c 6f"))])
    }

    @Test func clientEncodesMaskedHello() throws {
        let client = Connection(.client)
        try client.send(text: "Hello")
        #expect(client.takeOutput() == [.bytes(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))])
    }

    @Test func serverEncodesFragmentedHello() throws {
        let server = Connection(.server)
        try server.send(text: "Hel", fin: false)
        try server.send(continuation: Array("lo".utf8), fin: true)
        #expect(server.takeOutput() == [.bytes(hex("01 03 48 65 6c 80 02 6c 6f"))])
    }

    @Test func serverEncodesPing() throws {
        let server = Connection(.server)
        try server.sendPing(Array("Hello".utf8))
        #expect(server.takeOutput() == [.bytes(hex("89 05 48 65 6c 6c 6f"))])
    }

    @Test func clientEncodesPong() throws {
        let client = Connection(.client)
        try client.sendPong(Array("Hello".utf8))
        #expect(client.takeOutput() == [.bytes(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"))])
    }

    @Test func serverEncodes256ByteAnd64KiBBinaryHeaders() throws {
        let server = Connection(.server)
        try server.send(binary: [UInt8](repeating: 0xAB, count: 256))
        try server.send(binary: [UInt8](repeating: 0xCD, count: 65536))
        let expected = hex("82 7E 01 00") + [UInt8](repeating: 0xAB, count: 256)
            + hex("82 7F 00 00 00 00 00 01 00 00") + [UInt8](repeating: 0xCD, count: 65536)
        #expect(server.takeOutput() == [.bytes(expected)])
    }
}

@Suite("RFC 6455 §5.2 Payload length")
struct PayloadLengthTests {
    static let boundaries: [(length: Int, header: [UInt8])] = [
        (0, [0x00]), (125, [0x7D]), (126, [0x7E, 0x00, 0x7E]), (65535, [0x7E, 0xFF, 0xFF]),
        (65536, [0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]),
    ]

    @Test(arguments: boundaries)
    func frameEncoderUsesMinimalLength(length: Int, header: [UInt8]) {
        let payload = [UInt8](repeating: 0x42, count: length)
        #expect(Frame(opcode: .binary, payload: payload).encoded() == [0x82] + header + payload)
        let masked = Frame(opcode: .binary, payload: payload).encoded(mask: testKey)
        #expect(masked.prefix(header.count + 1) == [0x82, header[0] | 0x80] + header.dropFirst())
    }

    @Test(arguments: bothSides, boundaries.map(\.length))
    func receivesLengthBoundary(side: Connection.Side, length: Int) {
        let connection = Connection(side)
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
        connection.receive(incoming(Frame(opcode: .binary, payload: payload), to: side), .smallRandom)
        #expect(connection.takeEvents() == [.binary(payload)])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func rejectsLengthWithMostSignificantBitSet(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        let header = side == .server ? hex("82 FF 80 00 00 00 00 00 00 01 37 fa 21 3d") : hex("82 7F 80 00 00 00 00 00 00 01")
        connection.receive(header, chunking)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.lengthTooLarge, from: side))
    }
}

@Suite("RFC 6455 §5.1 and §5.3 Masking")
struct MaskingTests {
    @Test(arguments: Chunking.allCases)
    func serverRejectsUnmaskedFrame(chunking: Chunking) {
        let server = Connection(.server)
        server.receive(hex("81 05 48 65 6c 6c 6f"), chunking)
        #expect(server.takeEvents() == [])
        #expect(server.takeOutput() == failure(.unmaskedFrame, from: .server))
    }

    @Test(arguments: Chunking.allCases)
    func clientRejectsMaskedFrame(chunking: Chunking) {
        let client = Connection(.client)
        client.receive(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), chunking)
        #expect(client.takeEvents() == [])
        #expect(client.takeOutput() == failure(.maskedFrame, from: .client))
    }

    @Test func clientMasksWithInjectedKey() throws {
        let client = Connection(.client)
        try client.send(binary: [0x00, 0x00, 0x00, 0x00, 0xFF])
        #expect(client.takeOutput() == [.bytes(hex("82 85 37 fa 21 3d 37 fa 21 3d c8"))])
    }

    @Test func clientPicksFreshRandomKeyPerFrame() throws {
        let client = Connection(side: .client)
        for _ in 0..<4 { try client.send(binary: []) }
        let keys = try #require(client.takeOutput().first.flatMap { if case .bytes(let b) = $0 { b } else { nil } })
        #expect(Set(stride(from: 2, to: keys.count, by: 6).map { keys[$0..<$0 + 4] }).count == 4)
    }

    @Test func serverNeverMasks() throws {
        let server = Connection(.server)
        try server.send(binary: [0x00, 0xFF])
        #expect(server.takeOutput() == [.bytes(hex("82 02 00 ff"))])
    }

    @Test(arguments: 0..<4, [0, 1, 7, 8, 9, 31])
    func applyMaskContinuesAtAnyOffset(offset: Int, count: Int) {
        let plain = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let key = [UInt8(0x37), 0xFA, 0x21, 0x3D]
        var bytes = plain
        let next = bytes.withUnsafeMutableBytes { applyMask(testKey, to: $0, offset: offset) }
        #expect(bytes == plain.indices.map { plain[$0] ^ key[($0 + offset) % 4] })
        #expect(next == (offset + count) % 4)
    }
}

@Suite("RFC 6455 §5.2 Reserved bits and opcodes")
struct ReservedFieldTests {
    static let reservedBits: [UInt8] = [0x40, 0x20, 0x10, 0x70]

    @Test(arguments: bothSides, reservedBits)
    func rejectsReservedBitsWithoutExtension(side: Connection.Side, bits: UInt8) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.text, "Hello", reservedBits: .init(rawValue: bits)), to: side), .whole)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedBitsSet(.init(rawValue: bits)), from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func acceptsReservedBitClaimedByExtension(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side, extensions: [Rsv2Extension()])
        connection.receive(incoming(Frame(.text, "olleH", reservedBits: .rsv2), to: side), chunking)
        #expect(connection.takeEvents() == [.text("Hello")])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func acceptsExtensionBitOnFirstFragmentOnly(side: Connection.Side) {
        let connection = Connection(side, extensions: [Rsv2Extension()])
        connection.receive(incoming(Frame(.text, "oll", fin: false, reservedBits: .rsv2), Frame(.continuation, "eH"),
                                    to: side), .whole)
        #expect(connection.takeEvents() == [.text("Hello")])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func rejectsBitTheExtensionDoesNotClaim(side: Connection.Side) {
        let connection = Connection(side, extensions: [Rsv2Extension()])
        connection.receive(incoming(Frame(.text, "Hello", reservedBits: .rsv1), to: side), .whole)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedBitsSet(.rsv1), from: side))
    }

    @Test(arguments: bothSides)
    func rejectsExtensionBitOnContinuation(side: Connection.Side) {
        let connection = Connection(side, extensions: [Rsv2Extension()])
        connection.receive(incoming(Frame(.text, "He", fin: false), Frame(.continuation, "llo", reservedBits: .rsv2),
                                    to: side), .whole)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedBitsSet(.rsv2), from: side))
    }

    @Test(arguments: bothSides)
    func rejectsExtensionBitOnControlFrame(side: Connection.Side) {
        let connection = Connection(side, extensions: [Rsv2Extension()])
        connection.receive(incoming(Frame(.ping, "", reservedBits: .rsv2), to: side), .whole)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedBitsSet(.rsv2), from: side))
    }

    @Test func extensionEncodesOutgoingMessage() throws {
        let server = Connection(.server, extensions: [Rsv2Extension()])
        try server.send(text: "Hello")
        #expect(server.takeOutput() == [.bytes(Frame(.text, "olleH", reservedBits: .rsv2).encoded())])
    }

    @Test(arguments: bothSides, [UInt8](0x3...0x7) + [UInt8](0xB...0xF))
    func rejectsReservedOpcode(side: Connection.Side, opcode: UInt8) {
        let connection = Connection(side)
        connection.receive([0x80 | opcode] + (side == .server ? hex("80 37 fa 21 3d") : [0x00]), .byteAtATime)
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedOpcode(opcode), from: side))
    }

    @Test(arguments: bothSides)
    func failsOnReservedOpcodeBeforeTheLengthArrives(side: Connection.Side) {
        let connection = Connection(side)
        connection.receive([0x83])
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedOpcode(3), from: side))
    }
}

@Suite("RFC 6455 §5.5 Control frames")
struct ControlFrameTests {
    @Test(arguments: bothSides, [Opcode.ping, .pong, .close])
    func rejectsControlFrameLongerThan125Bytes(side: Connection.Side, opcode: Opcode) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode: opcode, payload: [UInt8](repeating: 0x30, count: 126)), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.controlFrameTooLong(126), from: side))
    }

    @Test(arguments: bothSides)
    func acceptsControlFrameOf125Bytes(side: Connection.Side) {
        let connection = Connection(side)
        let payload = [UInt8](repeating: 0x30, count: 125)
        connection.receive(incoming(Frame(opcode: .ping, payload: payload), to: side), .smallRandom)
        #expect(connection.takeEvents() == [.ping(payload)])
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(opcode: .pong, payload: payload), from: side))])
    }

    @Test(arguments: bothSides, [Opcode.ping, .pong, .close])
    func rejectsFragmentedControlFrame(side: Connection.Side, opcode: Opcode) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(opcode, "x", fin: false), Frame(.continuation, "y"), to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.fragmentedControlFrame, from: side))
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func answersPingWithPong(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        connection.receive(incoming(Frame(.ping, "are you there"), to: side), chunking)
        #expect(connection.takeEvents() == [.ping(Array("are you there".utf8))])
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(.pong, "are you there"), from: side))])
    }

    @Test(arguments: bothSides)
    func doesNotAnswerPingWhenAutoPongIsOff(side: Connection.Side) {
        let connection = Connection(side, autoPong: false)
        connection.receive(incoming(Frame(.ping, "x"), to: side))
        #expect(connection.takeEvents() == [.ping([0x78])])
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func pongGoesAheadOfQueuedData(side: Connection.Side) throws {
        let connection = Connection(side)
        try connection.send(text: "queued")
        connection.receive(incoming(Frame(.ping, "p"), to: side))
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(.pong, "p"), from: side)),
                                            .bytes(outgoing(Frame(.text, "queued"), from: side))])
    }

    @Test(arguments: bothSides)
    func refusesToSendControlFrameLongerThan125Bytes(side: Connection.Side) {
        let connection = Connection(side)
        #expect(throws: ConnectionStateError.self) { try connection.sendPing([UInt8](repeating: 0, count: 126)) }
        #expect(connection.takeOutput() == [])
    }
}

@Suite("Feeding patterns")
struct FeedingTests {
    @Test(arguments: bothSides, Chunking.allCases)
    func receivesManyFramesInOneBuffer(side: Connection.Side, chunking: Chunking) {
        let connection = Connection(side)
        let frames = (0..<50).map { Frame(.text, String(repeating: "ab", count: $0 * 3)) }
        connection.receive(frames.flatMap { incoming($0, to: side) }, chunking)
        #expect(connection.takeEvents() == frames.map { .text(String(decoding: $0.payload, as: UTF8.self)) })
        #expect(connection.takeOutput() == [])
    }

    @Test(arguments: bothSides)
    func receivesFramesSplitAtEveryOffset(side: Connection.Side) {
        let bytes = incoming(Frame(.text, "first"), Frame(opcode: .binary, payload: Array(repeating: 7, count: 300)),
                             Frame(.ping, "p"), Frame(.text, "last"), to: side)
        for cut in 0...bytes.count {
            let connection = Connection(side)
            connection.receive(bytes[..<cut])
            connection.receive(bytes[cut...])
            #expect(connection.takeEvents() == [.text("first"), .binary(Array(repeating: 7, count: 300)),
                                                .ping([0x70]), .text("last")], "cut at \(cut)")
        }
    }

    @Test(arguments: bothSides)
    func receivesFramesInThreePiecesAtEveryPairOfOffsets(side: Connection.Side) {
        let bytes = incoming(Frame(.text, "ab"), Frame(opcode: .binary, payload: Array(repeating: 9, count: 130)),
                             Frame(.text, "cd"), to: side)
        for first in 0...20 {
            for second in first...min(bytes.count, first + 20) {
                let connection = Connection(side)
                connection.receive(bytes[..<first])
                connection.receive(bytes[first..<second])
                connection.receive(bytes[second...])
                #expect(connection.takeEvents() == [.text("ab"), .binary(Array(repeating: 9, count: 130)), .text("cd")],
                        "cuts at \(first) and \(second)")
            }
        }
    }
}

@Suite("Debug logging hook")
struct LoggingTests {
    final class Lines: @unchecked Sendable {
        var lines: [String] = []
    }

    @Test func writesPythonStyleLinesOnlyWhenDebugIsOn() throws {
        let lines = Lines()
        let server = Connection(side: .server, log: LogSink(debug: true) { lines.lines.append($0) })
        server.receive(incoming(Frame(.text, "Hello"), to: .server))
        try server.close()
        #expect(lines.lines.contains("< TEXT 'Hello' [5 bytes]") && lines.lines.contains("= state CLOSING"))
        let quiet = Connection(side: .server, log: LogSink(debug: false) { _ in Issue.record("wrote while off") })
        quiet.receive(incoming(Frame(.text, "Hello"), to: .server))
    }
}
