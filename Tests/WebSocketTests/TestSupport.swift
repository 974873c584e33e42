import Testing
@testable import WebSocket

/// The masking key of RFC 6455 §5.7's masked examples, injected into every test client.
let testKey = MaskingKey(0x37, 0xFA, 0x21, 0x3D)

let bothSides: [Connection.Side] = [.server, .client]

extension Connection.Side: CustomTestStringConvertible {
    public var testDescription: String { self == .server ? "server" : "client" }
}

/// How a byte stream is cut into `receive` calls. Every decode vector runs with each.
enum Chunking: CaseIterable, Sendable, CustomTestStringConvertible {
    case whole
    case byteAtATime
    case smallRandom

    var testDescription: String {
        switch self {
        case .whole: "whole"
        case .byteAtATime: "byte at a time"
        case .smallRandom: "small random chunks"
        }
    }

    func split(_ bytes: [UInt8], seed: UInt64 = 0x5EED) -> [ArraySlice<UInt8>] {
        switch self {
        case .whole:
            return [bytes[...]]
        case .byteAtATime:
            return bytes.indices.map { bytes[$0..<$0 + 1] }
        case .smallRandom:
            var generator = SplitMix64(seed: seed)
            var chunks: [ArraySlice<UInt8>] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 1...17, using: &generator))
                chunks.append(bytes[start..<end])
                start = end
            }
            return chunks
        }
    }
}

/// A small seeded generator (Steele, Lea and Flood's SplitMix64), so random tests can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Connection {
    /// A connection whose masking keys (client side) are `testKey`.
    convenience init(_ side: Side, maxMessageSize: Int = 1 << 20, autoPong: Bool = true,
                     extensions: [any Extension] = []) {
        let configuration = Configuration(maxMessageSize: maxMessageSize, autoPong: autoPong,
                                          maskingKeys: .fixed(testKey))
        self.init(side: side, configuration: configuration, extensions: extensions)
    }

    func receive(_ bytes: [UInt8], _ chunking: Chunking) {
        for chunk in chunking.split(bytes) { self.receive(chunk) }
    }
}

extension Frame {
    init(_ opcode: Opcode, _ text: String, fin: Bool = true, reservedBits: ReservedBits = []) {
        self.init(fin: fin, reservedBits: reservedBits, opcode: opcode, payload: Array(text.utf8))
    }

    init(opcode: Opcode, payload: [UInt8], fin: Bool) {
        self.init(fin: fin, opcode: opcode, payload: payload)
    }

    static func close(_ code: UInt16, _ reason: String = "") -> Frame {
        Frame(opcode: .close, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
}

/// The wire bytes of frames as the peer of `side` sends them: masked toward a server, plain toward a client.
func incoming(_ frames: Frame..., to side: Connection.Side) -> [UInt8] {
    frames.flatMap { $0.encoded(mask: side == .server ? testKey : nil) }
}

/// The wire bytes of frames as `side` itself writes them (clients mask with `testKey`).
func outgoing(_ frames: Frame..., from side: Connection.Side) -> [UInt8] {
    frames.flatMap { $0.encoded(mask: side == .client ? testKey : nil) }
}

/// What a connection writes when it fails: its close frame, then on the server side the end of the
/// TCP connection (RFC 6455 §7.1.7; a client waits for the server to close).
func failure(_ violation: ProtocolViolation, from side: Connection.Side) -> [Connection.Output] {
    let bytes = outgoing(.close(violation.closeCode.rawValue, violation.reason), from: side)
    return side == .server ? [.bytes(bytes), .endOfStream] : [.bytes(bytes)]
}

/// What a connection writes when it answers the peer's close frame `frame`.
func closeEcho(_ frame: Frame, from side: Connection.Side) -> [Connection.Output] {
    let bytes = outgoing(frame, from: side)
    return side == .server ? [.bytes(bytes), .endOfStream] : [.bytes(bytes)]
}

/// The close code in the first close frame of `outputs`, decoded as the peer would (unmasking client frames).
func sentCloseCode(_ outputs: [Connection.Output], from side: Connection.Side) -> UInt16? {
    let peer = Connection(side == .server ? .client : .server)
    for case .bytes(let bytes) in outputs { peer.receive(bytes) }
    for case .close(let code, _) in peer.takeEvents() { return code?.rawValue }
    return nil
}

/// Bytes from a hex string such as "81 05 48 65".
func hex(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// Python's `Rsv2Extension` from the websockets test suite: claims RSV2 and reverses payloads, so a
/// test can tell that decoding ran.
final class Rsv2Extension: Extension {
    let name = "x-rsv2"
    let reservedBits = Frame.ReservedBits.rsv2

    func decode(message: [UInt8], reservedBits: Frame.ReservedBits, maxSize: Int) throws(ProtocolViolation)
        -> [UInt8]
    {
        message.reversed()
    }

    func encode(message: [UInt8], opcode: Opcode) -> (payload: [UInt8], reservedBits: Frame.ReservedBits) {
        (message.reversed(), .rsv2)
    }
}
