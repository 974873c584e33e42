import WebSocket

/// A message for many sessions (broadcast, a long-lived program's output to several clients),
/// encoded once per kind of receiver rather than once per receiver.
///
/// Sessions without compression share the plain frame. Sessions whose compression keeps no context
/// between messages compress it to the same bytes when their parameters match
/// (`PerMessageDeflate.sharingKey`), so it is compressed once per distinct key. A session with
/// context takeover must compress it through its own stream: `frame(for:)` returns nil for it.
final class FanoutMessage {
    let opcode: Opcode
    let payload: [UInt8]
    private var plain: [UInt8]?
    private var compressed: [PerMessageDeflate.SharingKey: [UInt8]] = [:]
    /// How many times the payload was compressed, for tests.
    private(set) var compressions = 0

    init(opcode: Opcode, payload: [UInt8]) {
        precondition(opcode == .text || opcode == .binary, "a fanout message is text or binary")
        self.opcode = opcode
        self.payload = payload
    }

    convenience init(_ message: Message) {
        switch message {
        case .text(let text): self.init(opcode: .text, payload: Array(text.utf8))
        case .binary(let bytes): self.init(opcode: .binary, payload: bytes)
        }
    }

    /// The server frame for a session with `deflate`, or nil when the session must compress the
    /// payload itself (context takeover).
    func frame(for deflate: PerMessageDeflate?) -> [UInt8]? {
        guard let deflate, deflate.compresses else { return self.plainFrame() }
        guard let key = deflate.sharingKey else { return nil }
        if let frame = self.compressed[key] { return frame }
        let frame: [UInt8]
        self.compressions += 1
        if let payload = self.payload.withUnsafeBytes({ deflate.compress($0) }) {
            var bytes: [UInt8] = []
            FrameEncoder.append(opcode: self.opcode, reservedBits: .rsv1, payload: payload, mask: nil, to: &bytes)
            frame = bytes
        } else {
            frame = self.plainFrame()
        }
        self.compressed[key] = frame
        return frame
    }

    private func plainFrame() -> [UInt8] {
        if let plain = self.plain { return plain }
        var bytes: [UInt8] = []
        FrameEncoder.append(opcode: self.opcode, payload: self.payload, mask: nil, to: &bytes)
        self.plain = bytes
        return bytes
    }
}
