import Testing
@testable import WebSocket

/// A connection with permessage-deflate agreed as `agreement`, compressing everything (threshold 0).
private func deflating(_ side: Connection.Side, _ agreement: PerMessageDeflate.Agreement = .init(),
                       contextTakeover: Bool = true, maxMessageSize: Int = 1 << 20,
                       shared: PerMessageDeflate.SharedStreams? = nil) -> Connection {
    let configuration = PerMessageDeflate.Configuration(contextTakeover: contextTakeover, threshold: 0)
    let deflate = PerMessageDeflate(side: side, agreement: agreement, configuration: configuration, shared: shared)
    return Connection(side, maxMessageSize: maxMessageSize, extensions: [deflate])
}

/// A compressed frame's bytes (RSV1 set) with `payload`, as the peer of `side` would send it.
private func compressed(_ opcode: Opcode, _ payload: String, fin: Bool = true, to side: Connection.Side) -> [UInt8] {
    incoming(Frame(fin: fin, reservedBits: .rsv1, opcode: opcode, payload: hex(payload)), to: side)
}

@Suite("RFC 7692 §7.2.3 Examples")
struct DeflateExampleTests {
    /// §7.2.3.1 to §7.2.3.6: each example's payload, which inflates to "Hello" (or "").
    static let examples: [(String, String)] = [
        ("f2 48 cd c9 c9 07 00", "Hello"),  // §7.2.3.1 a message compressed
        ("00 05 00 fa ff 48 65 6c 6c 6f 00", "Hello"),  // §7.2.3.3 an uncompressed DEFLATE block
        ("f3 48 cd c9 c9 07 00 00", "Hello"),  // §7.2.3.4 BFINAL set
        ("f2 48 05 00 00 00 ff ff ca c9 c9 07 00", "Hello"),  // §7.2.3.5 two DEFLATE blocks
        ("00", ""),  // §7.2.3.6 an empty message
    ]

    @Test(arguments: bothSides, Chunking.allCases)
    func decodesEachExample(side: Connection.Side, chunking: Chunking) {
        for (payload, text) in Self.examples {
            let connection = deflating(side)
            connection.receive(compressed(.text, payload, to: side), chunking)
            #expect(connection.takeEvents() == [.text(text)], "\(payload)")
            #expect(connection.takeOutput() == [])
        }
    }

    @Test(arguments: bothSides, Chunking.allCases)
    func decodesFragmentedExample(side: Connection.Side, chunking: Chunking) {
        // §7.2.3.1: the compressed "Hello" split over two frames; RSV1 on the first only.
        let connection = deflating(side)
        let bytes = compressed(.text, "f2 48 cd", fin: false, to: side)
            + incoming(Frame(opcode: .continuation, payload: hex("c9 c9 07 00"), fin: true), to: side)
        connection.receive(bytes, chunking)
        #expect(connection.takeEvents() == [.text("Hello")])
    }

    @Test(arguments: bothSides)
    func decodesSharedWindowAcrossMessages(side: Connection.Side) {
        // §7.2.3.2: the second "Hello" is a back-reference into the first message.
        let connection = deflating(side)
        connection.receive(compressed(.text, "f2 48 cd c9 c9 07 00", to: side)
                           + compressed(.text, "f2 00 11 00 00", to: side))
        #expect(connection.takeEvents() == [.text("Hello"), .text("Hello")])
    }

    @Test(arguments: bothSides)
    func keepsWindowAfterFinalBlock(side: Connection.Side) {
        let connection = deflating(side)
        connection.receive(compressed(.text, "f3 48 cd c9 c9 07 00 00", to: side)
                           + compressed(.text, "f2 00 11 00 00", to: side))
        #expect(connection.takeEvents() == [.text("Hello"), .text("Hello")])
    }

    @Test func clientRejectsBackReferenceWhenServerHasNoContextTakeover() {
        let client = deflating(.client, .init(serverNoContextTakeover: true))
        client.receive(compressed(.text, "f2 48 cd c9 c9 07 00", to: .client)
                       + compressed(.text, "f2 00 11 00 00", to: .client))
        #expect(client.takeEvents() == [.text("Hello")])
        #expect(sentCloseCode(client.takeOutput(), from: .client) == 1007)
    }

    @Test func serverCompressesHelloAsTheRFCDoes() throws {
        // §7.2.3.2, sending side: "Hello" twice with context takeover.
        let server = deflating(.server)
        try server.send(text: "Hello")
        try server.send(text: "Hello")
        #expect(server.takeOutput() == [.bytes(hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"))])
    }

    @Test func serverCompressesEmptyMessageToOneByte() throws {
        let server = deflating(.server)
        try server.send(binary: [])
        #expect(server.takeOutput() == [.bytes(hex("c2 01 00"))])
    }

    @Test(arguments: [9, 10, 12, 15])
    func emptyMessagesKeepTheStreamsInStep(bits: Int) throws {
        // zlib writes nothing for a sync flush right after another; the empty message must still be 0x00.
        let deflater = Deflater(windowBits: bits, level: 6, memoryLevel: 8)
        let inflater = Inflater(windowBits: bits)
        for text in ["Hello", "", "", "Hello again", "", "Hello"] {
            let payload = deflater.compress(Array(text.utf8))
            if text.isEmpty { #expect(payload == [0x00]) }
            #expect(try inflater.inflate(payload, limit: 100) == Array(text.utf8))
        }
    }

    @Test func withoutContextTakeoverEveryMessageCompressesAlike() throws {
        let server = deflating(.server, .init(serverNoContextTakeover: true))
        let text = String(repeating: "the same words again and again, ", count: 8)
        try server.send(text: text)
        try server.send(text: text)
        guard case .bytes(let bytes) = server.takeOutput().first else { Issue.record("no output"); return }
        #expect(bytes[0] == 0xC1)
        #expect(Array(bytes[..<(bytes.count / 2)]) == Array(bytes[(bytes.count / 2)...]))
    }

    @Test func sendsShortMessagesUncompressedBelowThreshold() throws {
        let configuration = PerMessageDeflate.Configuration(threshold: 64)
        let server = Connection(.server, extensions: [PerMessageDeflate(side: .server, agreement: .init(),
                                                                        configuration: configuration)])
        try server.send(text: "Hello")
        #expect(server.takeOutput() == [.bytes(outgoing(Frame(.text, "Hello"), from: .server))])
    }

    @Test func sendsIncompressibleMessageUncompressedWithoutContextTakeover() throws {
        let server = deflating(.server, .init(serverNoContextTakeover: true))
        var generator = SplitMix64(seed: 7)
        let noise = (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try server.send(binary: noise)
        #expect(server.takeOutput() == [.bytes(outgoing(Frame(opcode: .binary, payload: noise), from: .server))])
    }

    @Test func clientSendsUncompressedWhenAgreedWindowIsEightBits() throws {
        // zlib cannot compress with an 8-bit window; sending uncompressed is always allowed.
        let client = deflating(.client, .init(clientMaxWindowBits: 8))
        try client.send(text: String(repeating: "a", count: 100))
        let peer = deflating(.server, .init(clientMaxWindowBits: 8))
        for case .bytes(let bytes) in client.takeOutput() {
            #expect(bytes[0] == 0x81)
            peer.receive(bytes)
        }
        #expect(peer.takeEvents() == [.text(String(repeating: "a", count: 100))])
    }

    @Test func serverInflatesEightBitWindow() {
        let server = deflating(.server, .init(clientMaxWindowBits: 8))
        server.receive(compressed(.text, "f2 48 cd c9 c9 07 00", to: .server)
                       + compressed(.text, "f2 00 11 00 00", to: .server))
        #expect(server.takeEvents() == [.text("Hello"), .text("Hello")])
    }
}

@Suite("RFC 7692 §6 Framing and faults")
struct DeflateFramingTests {
    @Test(arguments: bothSides, Chunking.allCases)
    func controlFramesInterleaveWithCompressedFragments(side: Connection.Side, chunking: Chunking) {
        let connection = deflating(side)
        let bytes = compressed(.text, "f2 48", fin: false, to: side)
            + incoming(Frame(.ping, "p"), to: side)
            + incoming(Frame(opcode: .continuation, payload: hex("cd c9"), fin: false), to: side)
            + incoming(Frame(.pong, "q"), to: side)
            + incoming(Frame(opcode: .continuation, payload: hex("c9 07 00"), fin: true), to: side)
        connection.receive(bytes, chunking)
        #expect(connection.takeEvents() == [.ping(Array("p".utf8)), .pong(Array("q".utf8)), .text("Hello")])
        #expect(connection.takeOutput() == [.bytes(outgoing(Frame(.pong, "p"), from: side))])
    }

    @Test(arguments: bothSides)
    func rejectsRSV1OnContinuation(side: Connection.Side) {
        let connection = deflating(side)
        connection.receive(compressed(.text, "f2 48", fin: false, to: side)
                           + compressed(.continuation, "cd c9 c9 07 00", to: side))
        #expect(connection.takeEvents() == [])
        #expect(connection.takeOutput() == failure(.reservedBitsSet(.rsv1), from: side))
    }

    @Test(arguments: bothSides, [Opcode.ping, .pong, .close])
    func rejectsRSV1OnControlFrame(side: Connection.Side, opcode: Opcode) {
        let connection = deflating(side)
        connection.receive(incoming(Frame(fin: true, reservedBits: .rsv1, opcode: opcode, payload: []), to: side))
        #expect(connection.takeOutput() == failure(.reservedBitsSet(.rsv1), from: side))
    }

    @Test(arguments: bothSides)
    func messageThatDoesNotInflateIs1007(side: Connection.Side) {
        let connection = deflating(side)
        connection.receive(compressed(.text, "ff", to: side))  // BTYPE 11 is reserved
        #expect(connection.takeEvents() == [])
        #expect(sentCloseCode(connection.takeOutput(), from: side) == 1007)
    }

    @Test(arguments: bothSides)
    func compressedInvalidUTF8Is1007(side: Connection.Side) throws {
        let encoder = deflating(side == .server ? .client : .server)
        try encoder.send(binary: [0xC0, 0xAF, 0x41, 0x41])
        let connection = deflating(side)
        for case .bytes(var bytes) in encoder.takeOutput() {
            bytes[0] = (bytes[0] & 0xF0) | 0x01  // the same payload as text
            connection.receive(bytes)
        }
        #expect(connection.takeEvents() == [])
        #expect(sentCloseCode(connection.takeOutput(), from: side) == 1007)
    }

    @Test func decompressionBombClosesWith1009() throws {
        // 64 MiB of zeros compress to about 64 KiB; the limit is 1 MiB.
        let bomb = Deflater(windowBits: 15, level: 9, memoryLevel: 8)
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let payload = bomb.compress(zeros)
        #expect(payload.count < 100_000)
        let server = deflating(.server, maxMessageSize: 1 << 20)
        server.receive(incoming(Frame(fin: true, reservedBits: .rsv1, opcode: .binary, payload: payload), to: .server))
        #expect(server.takeEvents() == [])
        #expect(sentCloseCode(server.takeOutput(), from: .server) == 1009)
    }

    @Test func inflaterStopsWithinOneChunkOfTheLimit() {
        let zeros = [UInt8](repeating: 0, count: 10 << 20)
        let payload = Deflater(windowBits: 15, level: 9, memoryLevel: 8).compress(zeros)
        let inflater = Inflater(windowBits: 15)
        #expect(throws: Inflater.Failure.tooBig) { _ = try inflater.inflate(payload, limit: 100_000) }
        // Everything up to the limit itself is fine.
        let exact = Deflater(windowBits: 15, level: 9, memoryLevel: 8).compress([UInt8](repeating: 0, count: 100_000))
        inflater.reset()
        let result = try? inflater.inflate(exact, limit: 100_000)
        #expect(result?.count == 100_000)
    }

    @Test func compressedMessageJustOverLimitBeforeInflatingIsAccepted() throws {
        // Incompressible bytes grow a little when compressed with context takeover; the limit is on
        // the inflated size.
        var generator = SplitMix64(seed: 11)
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let client = deflating(.client)
        try client.send(binary: noise)
        let server = deflating(.server, maxMessageSize: 4096)
        for case .bytes(let bytes) in client.takeOutput() { server.receive(bytes) }
        #expect(server.takeEvents() == [.binary(noise)])
    }
}

@Suite("RFC 7692 round trips")
struct DeflateRoundTripTests {
    static let agreements: [PerMessageDeflate.Agreement] = [
        .init(),
        .init(serverNoContextTakeover: true, clientNoContextTakeover: true),
        .init(serverNoContextTakeover: true),
        .init(serverMaxWindowBits: 9, clientMaxWindowBits: 10),
        .init(clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 8),
    ]

    @Test(arguments: agreements, [true, false])
    func randomMessagesBothWays(agreement: PerMessageDeflate.Agreement, takeover: Bool) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SplitMix64(seed: seed)
        let shared = PerMessageDeflate.SharedStreams()
        let client = deflating(.client, agreement, contextTakeover: takeover, shared: shared)
        let server = deflating(.server, agreement, contextTakeover: takeover, shared: shared)
        let words = ["alpha", "beta", "gamma", "{\"id\":", "42}", " ", "\n", "delta epsilon"]
        for round in 0..<40 {
            let count = Int.random(in: 0...60, using: &generator)
            let text = (0..<count).map { _ in words.randomElement(using: &generator)! }.joined()
            let (sender, receiver) = round % 2 == 0 ? (client, server) : (server, client)
            try sender.send(text: text)
            for case .bytes(let bytes) in sender.takeOutput() {
                receiver.receive(bytes, Chunking.allCases[round % 3])
            }
            #expect(receiver.takeEvents() == [.text(text)], "seed \(seed), round \(round)")
        }
    }
}
