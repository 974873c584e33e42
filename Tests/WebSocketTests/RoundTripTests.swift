import Synchronization
import Testing
@testable import WebSocket

/// Random messages, fragmented at random by the sender and cut at random on the wire, must arrive intact.
@Suite("Round trip between a client and a server")
struct RoundTripTests {
    enum Message: Equatable {
        case text(String)
        case binary([UInt8])
    }

    static let alphabet: [Character] = ["a", "Z", "0", " ", "\n", "é", "ß", "κ", "ό", "€", "中", "\u{FFFD}", "😀", "🇫🇷",
                                        "\u{10FFFF}", "e\u{301}"]

    static func randomMessage(using generator: inout SplitMix64) -> Message {
        // Mostly small messages, a few up to about 100 KB.
        let size = Int.random(in: 0...9, using: &generator) == 0 ? Int.random(in: 0...100_000, using: &generator)
            : Int.random(in: 0...300, using: &generator)
        if Bool.random(using: &generator) {
            return .binary((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        var text = ""
        while text.utf8.count < size {
            let run = Int.random(in: 1...40, using: &generator)
            let character = Self.alphabet.randomElement(using: &generator)!
            text.append(String(repeating: character, count: run))
        }
        return .text(text)
    }

    /// Sends `message` in random fragments, cut anywhere, even inside a multi-byte character.
    static func send(_ message: Message, from sender: Connection, using generator: inout SplitMix64) throws {
        let bytes: [UInt8]
        switch message {
        case .text(let text): bytes = Array(text.utf8)
        case .binary(let binary): bytes = binary
        }
        var cuts = (0..<Int.random(in: 0...4, using: &generator)).map { _ in Int.random(in: 0...bytes.count, using: &generator) }
        cuts = [0] + cuts.sorted() + [bytes.count]
        for index in 0..<cuts.count - 1 {
            let fragment = bytes[cuts[index]..<cuts[index + 1]]
            let fin = index == cuts.count - 2
            if index > 0 {
                try sender.send(continuation: fragment, fin: fin)
            } else if case .text = message {
                // Through `Result`: a typed-throws closure passed to the rethrowing `withUnsafeBytes`
                // crashes the 6.3.1 compiler in IRGen.
                try Array(fragment).withUnsafeBytes { buffer in
                    Result { () throws(ConnectionStateError) in try sender.send(textUTF8: buffer, fin: fin) }
                }.get()
            } else {
                try sender.send(binary: fragment, fin: fin)
            }
            if Int.random(in: 0...7, using: &generator) == 0 { try sender.sendPing([UInt8(index)]) }
        }
    }

    /// Moves every byte `from` has written into `to`, in random chunks.
    static func deliver(from: Connection, to: Connection, using generator: inout SplitMix64) {
        for case .bytes(let bytes) in from.takeOutput() {
            var start = 0
            while start < bytes.count {
                let limit = Bool.random(using: &generator) ? 20 : 70_000
                let end = min(bytes.count, start + Int.random(in: 1...limit, using: &generator))
                to.receive(bytes[start..<end])
                start = end
            }
        }
    }

    static func received(_ events: [Connection.Event]) -> [Message] {
        events.compactMap { event in
            switch event {
            case .text(let text): .text(text)
            case .binary(let binary): .binary(binary)
            default: nil
            }
        }
    }

    @Test(arguments: [UInt64(0x5EED_0001), 0x5EED_0002, 0x5EED_0003, 0x5EED_0004])
    func messagesSurviveFragmentationAndChunking(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let keys = KeySequence(seed: ~seed)
        let randomKeys = MaskingKeySource { keys.next() }
        let client = Connection(side: .client, configuration: .init(maskingKeys: randomKeys))
        let server = Connection(side: .server)
        for iteration in 0..<100 {
            let message = Self.randomMessage(using: &generator)
            let clientToServer = Bool.random(using: &generator)
            let (sender, receiver) = clientToServer ? (client, server) : (server, client)
            try Self.send(message, from: sender, using: &generator)
            Self.deliver(from: sender, to: receiver, using: &generator)
            Self.deliver(from: receiver, to: sender, using: &generator)
            let events = receiver.takeEvents()
            let ok = Self.received(events) == [message]
            #expect(ok, "seed \(String(seed, radix: 16)) iteration \(iteration): \(clientToServer ? "client → server" : "server → client")")
            guard ok else { return }
            _ = sender.takeEvents()
        }
        try client.close(code: .normalClosure, reason: "done")
        Self.deliver(from: client, to: server, using: &generator)
        Self.deliver(from: server, to: client, using: &generator)
        #expect(server.takeEvents() == [.close(.normalClosure, "done")])
        #expect(client.takeEvents() == [.close(.normalClosure, "done")])
    }
}

/// Masking keys from a seeded generator, so that a failing seed replays byte for byte.
final class KeySequence: Sendable {
    let generator: Mutex<SplitMix64>

    init(seed: UInt64) { self.generator = Mutex(SplitMix64(seed: seed)) }

    func next() -> MaskingKey {
        let word = self.generator.withLock { $0.next() }
        return MaskingKey(UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8),
                          UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 24))
    }
}

/// Whatever the peer sends, valid or not, the events and output must not depend on how the bytes were cut.
@Suite("Chunking invariance")
struct ChunkingInvarianceTests {
    static func randomFrame(for side: Connection.Side, using generator: inout SplitMix64) -> [UInt8] {
        let opcodes: [UInt8] = [0x0, 0x0, 0x1, 0x1, 0x2, 0x2, 0x9, 0xA, 0x8, 0x3]
        let opcode = opcodes.randomElement(using: &generator)!
        let fin = Int.random(in: 0...3, using: &generator) != 0
        let rsv: UInt8 = Int.random(in: 0...30, using: &generator) == 0 ? 0x40 : 0
        let length = Int.random(in: 0...9, using: &generator) == 0 ? Int.random(in: 120...70_000, using: &generator)
            : Int.random(in: 0...130, using: &generator)
        var payload: [UInt8]
        if opcode == 0x8 && length >= 2 && Bool.random(using: &generator) {
            payload = [0x03, 0xE8] + Array(repeating: 0x61, count: min(length, 125) - 2)
        } else if Int.random(in: 0...5, using: &generator) == 0 {
            payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        } else {
            payload = Array(String(repeating: "aé😀", count: length / 7 + 1).utf8.prefix(length))
        }
        let masked = (side == .server) != (Int.random(in: 0...40, using: &generator) == 0)
        var bytes: [UInt8] = []
        FrameEncoder.append(opcode: Opcode(rawValue: opcode) ?? .text, fin: fin, reservedBits: .init(rawValue: rsv),
                            payload: payload, mask: masked ? testKey : nil, to: &bytes)
        bytes[0] = (bytes[0] & 0xF0) | opcode
        return bytes
    }

    static func run(_ side: Connection.Side, _ chunks: [ArraySlice<UInt8>]) -> ([Connection.Event], [UInt8], Bool) {
        let connection = Connection(side, maxMessageSize: 50_000)
        for chunk in chunks { connection.receive(chunk) }
        var bytes: [UInt8] = []
        var ended = false
        for output in connection.takeOutput() {
            switch output {
            case .bytes(let b): bytes += b
            case .endOfStream: ended = true
            }
        }
        return (connection.takeEvents(), bytes, ended)
    }

    @Test(arguments: bothSides, [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomFrameSequencesGiveTheSameResultHoweverCut(side: Connection.Side, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        for iteration in 0..<40 {
            let bytes = (0..<Int.random(in: 1...8, using: &generator)).flatMap { _ in
                Self.randomFrame(for: side, using: &generator)
            }
            let whole = Self.run(side, [bytes[...]])
            var cuts: [ArraySlice<UInt8>] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 1...(Bool.random(using: &generator) ? 16 : 4000),
                                                               using: &generator))
                cuts.append(bytes[start..<end])
                start = end
            }
            let chunked = Self.run(side, cuts)
            let same = whole.0 == chunked.0 && whole.1 == chunked.1 && whole.2 == chunked.2
            #expect(same, "seed \(seed) iteration \(iteration): \(bytes.count) bytes in \(cuts.count) chunks")
            if !same { return }
        }
    }

    @Test(arguments: bothSides)
    func receiveMutatingUnmasksInPlaceAndMatchesReceive(side: Connection.Side) {
        let connection = Connection(side)
        var bytes = incoming(Frame(.text, "Hello"), Frame(opcode: .binary, payload: Array(repeating: 3, count: 300)),
                             to: side)
        bytes.withUnsafeMutableBytes { connection.receive(mutating: UnsafeMutableRawBufferPointer(rebasing: $0[..<7])) }
        bytes.withUnsafeMutableBytes { connection.receive(mutating: UnsafeMutableRawBufferPointer(rebasing: $0[7...])) }
        #expect(connection.takeEvents() == [.text("Hello"), .binary(Array(repeating: 3, count: 300))])
    }
}
