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
