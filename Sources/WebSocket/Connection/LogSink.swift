/// Where the protocol core writes its debug lines, if anywhere.
///
/// A hook rather than a global logger, and the message is an autoclosure: with debug off, formatting a
/// frame costs nothing (python-websockets' `if self.debug:`).
public struct LogSink: Sendable {
    public let isDebugEnabled: Bool
    @usableFromInline
    let write: @Sendable (String) -> Void

    public init(debug: Bool, write: @escaping @Sendable (String) -> Void) {
        self.isDebugEnabled = debug
        self.write = write
    }

    @inlinable
    public func debug(_ message: @autoclosure () -> String) {
        if self.isDebugEnabled { self.write(message()) }
    }
}

/// A short printable form of a payload for debug lines, elided past 75 characters.
func describePayload(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> String {
    let text: String
    if opcode == .text || opcode == .close {
        let body = opcode == .close && payload.count >= 2 ? UnsafeRawBufferPointer(rebasing: payload[2...]) : payload
        let string = String(decoding: body, as: UTF8.self)
        text = string.count > 75 ? "'\(string.prefix(72))...'" : "'\(string)'"
    } else {
        let hex = payload.prefix(24).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        text = payload.count > 24 ? hex + " ..." : hex
    }
    return "\(text) [\(payload.count) bytes]"
}
