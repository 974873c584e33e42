import WebSocket

/// A room's message as published to Redis: who sent it and whether it is text or binary.
///
///     "W" 0x01 kind(0x01 text | 0x02 binary) instance(16 bytes) payload
///
/// The instance id lets an instance drop its own publications, which Redis delivers back to it like
/// anyone else's (its own clients were served locally already). The payload follows unchanged, so
/// binary messages pass as they are. The leading magic and version let a later format coexist, and
/// make a foreign publisher's message on the channel recognisable (it is dropped and counted).
struct RoomEnvelope: Equatable {
    static let headerLength = 19
    static let magic = UInt8(ascii: "W")
    static let version: UInt8 = 1

    var instance: [UInt8]
    var opcode: Opcode
    var payload: [UInt8]

    /// Appends the envelope's header for `opcode` from `instance`; the caller appends the payload.
    static func appendHeader(opcode: Opcode, instance: [UInt8], to buffer: inout [UInt8]) {
        precondition(instance.count == 16 && (opcode == .text || opcode == .binary))
        buffer.append(Self.magic)
        buffer.append(Self.version)
        buffer.append(opcode == .text ? 0x01 : 0x02)
        buffer.append(contentsOf: instance)
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        Self.appendHeader(opcode: self.opcode, instance: self.instance, to: &bytes)
        return bytes + self.payload
    }

    /// The envelope in `bytes`, or nil for anything else (a foreign publisher, another version),
    /// and for a text message that is not UTF-8, which no client may be sent as text.
    init?(decoding bytes: [UInt8]) {
        guard bytes.count >= Self.headerLength, bytes[0] == Self.magic, bytes[1] == Self.version else { return nil }
        switch bytes[2] {
        case 0x01: self.opcode = .text
        case 0x02: self.opcode = .binary
        default: return nil
        }
        self.instance = Array(bytes[3..<Self.headerLength])
        self.payload = Array(bytes[Self.headerLength...])
        if self.opcode == .text && !UTF8Validator.isValid(self.payload) { return nil }
    }

    init(instance: [UInt8], opcode: Opcode, payload: [UInt8]) {
        self.instance = instance
        self.opcode = opcode
        self.payload = payload
    }
}
