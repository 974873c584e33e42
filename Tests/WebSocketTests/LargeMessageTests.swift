import Testing
@testable import WebSocket

/// Large messages take paths of their own: a binary frame whole in the buffer is copied out
/// unmasking, a frame in pieces is unmasked as each piece is copied into the message. Both must give
/// the bytes sent, whatever the cut, and text in pieces is still validated where it lands.
@Suite("Large messages, whole and in pieces")
struct LargeMessageTests {
    static let payload = (0..<70_001).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }

    @Test(arguments: [Chunking.whole, .smallRandom])
    func largeBinaryArrivesAsSent(chunking: Chunking) {
        let server = Connection(.server)
        server.receive(incoming(Frame(opcode: .binary, payload: Self.payload), to: .server), chunking)
        #expect(server.takeEvents() == [.binary(Self.payload)])
    }

    /// Cut anywhere, including inside the header and at every key offset of the piece boundaries.
    @Test(arguments: [1, 2, 5, 13, 4097, 65_537, 70_000])
    func largeBinaryCutOnceArrivesAsSent(cut: Int) {
        let bytes = incoming(Frame(opcode: .binary, payload: Self.payload), to: .server)
        for extra in 0..<4 {
            let server = Connection(.server)
            var first = Array(bytes[0..<cut + extra])
            var second = Array(bytes[(cut + extra)...])
            first.withUnsafeMutableBytes { server.receive(mutating: $0, lendingMessages: true) }
            second.withUnsafeMutableBytes { server.receive(mutating: $0, lendingMessages: true) }
            #expect(server.takeEvents() == [.binary(Self.payload)], "cut at \(cut + extra)")
        }
    }

    /// A large binary message in fragments: assembled from pieces, never taken for a whole frame.
    @Test func largeFragmentedBinaryIsAssembled() {
        let server = Connection(.server)
        let half = Self.payload.count / 2
        var bytes = incoming(Frame(opcode: .binary, payload: Array(Self.payload[..<half]), fin: false),
                             Frame(opcode: .continuation, payload: Array(Self.payload[half...]), fin: true),
                             to: .server)
        bytes.withUnsafeMutableBytes { server.receive(mutating: $0, lendingMessages: true) }
        #expect(server.takeEvents() == [.binary(Self.payload)])
    }

    @Test(arguments: [Chunking.whole, .smallRandom])
    func largeTextInPiecesIsValidated(chunking: Chunking) {
        var text = Array(String(repeating: "wsgate é ", count: 5_000).utf8)
        let server = Connection(.server)
        server.receive(incoming(Frame(opcode: .text, payload: text), to: .server), chunking)
        #expect(server.takeEvents() == [.text(String(decoding: text, as: UTF8.self))])

        text[30_001] = 0xFF
        let failing = Connection(.server)
        failing.receive(incoming(Frame(opcode: .text, payload: text), to: .server), chunking)
        #expect(failing.takeEvents().isEmpty)
        #expect(sentCloseCode(failing.takeOutput(), from: .server) == 1007)
    }
}
