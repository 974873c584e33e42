/// A frame's opcode (RFC 6455 §5.2).
///
/// A closed set: the reserved values 0x3–0x7 and 0xB–0xF are protocol errors, so `Opcode(rawValue:)`
/// is the validation and there is no case for them.
public enum Opcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) have the high bit of the opcode set (RFC 6455 §5.5).
    @inlinable
    public var isControl: Bool { self.rawValue & 0x8 != 0 }
}

extension Opcode: CustomStringConvertible {
    public var description: String {
        switch self {
        case .continuation: "CONT"
        case .text: "TEXT"
        case .binary: "BINARY"
        case .close: "CLOSE"
        case .ping: "PING"
        case .pong: "PONG"
        }
    }
}
