/// Something the peer sent that RFC 6455 forbids. Each case names the close code that reports it.
///
/// Reasons are short lower-case phrases, as in python-websockets, and always fit in a close frame.
public enum ProtocolViolation: Error, Equatable, Sendable {
    case reservedBitsSet(Frame.ReservedBits)
    case reservedOpcode(UInt8)
    case unmaskedFrame
    case maskedFrame
    case fragmentedControlFrame
    case controlFrameTooLong(Int)
    case lengthTooLarge
    case unexpectedContinuation
    case expectedContinuation
    case invalidUTF8(at: Int)
    case messageTooBig(limit: Int)
    case oneByteClosePayload
    case badCloseCode(UInt16)
    case invalidCloseReason
    case extensionFailed(String)
    /// A compressed message (RFC 7692) that does not inflate.
    case invalidCompressedData(String)

    /// The code of the close frame that reports this violation (RFC 6455 §7.4.1).
    public var closeCode: CloseCode {
        switch self {
        case .invalidUTF8, .invalidCloseReason, .invalidCompressedData: .invalidData
        case .messageTooBig: .messageTooBig
        default: .protocolError
        }
    }

    /// The reason of the close frame that reports this violation.
    public var reason: String {
        switch self {
        case .reservedBitsSet(let bits): "reserved bits must be 0 (got 0x\(String(bits.rawValue, radix: 16)))"
        case .reservedOpcode(let value): "reserved opcode \(value)"
        case .unmaskedFrame: "incorrect masking: client frames must be masked"
        case .maskedFrame: "incorrect masking: server frames must not be masked"
        case .fragmentedControlFrame: "fragmented control frame"
        case .controlFrameTooLong(let length): "control frame too long (\(length) bytes)"
        case .lengthTooLarge: "payload length has the most significant bit set"
        case .unexpectedContinuation: "unexpected continuation frame"
        case .expectedContinuation: "expected a continuation frame"
        case .invalidUTF8(let offset): "invalid UTF-8 at byte \(offset)"
        case .messageTooBig(let limit): "message too big (limit \(limit) bytes)"
        case .oneByteClosePayload: "close frame with a 1-byte payload"
        case .badCloseCode(let code): "invalid close code \(code)"
        case .invalidCloseReason: "close reason is not valid UTF-8"
        case .extensionFailed(let what): what
        case .invalidCompressedData(let what): "invalid compressed data: \(what)".prefix(123).description
        }
    }
}

/// A caller asked for something the connection's state does not allow, e.g. sending after close.
///
/// Unlike `ProtocolViolation`, this is the embedder's mistake (or a race it must handle), so it is thrown.
public struct ConnectionStateError: Error, Equatable, Sendable, CustomStringConvertible {
    public let operation: String
    public let state: Connection.State

    public var description: String { "cannot \(self.operation) in state \(self.state)" }
}
