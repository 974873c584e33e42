import WebSocket

/// What serves one session: the built-in handlers and the embedder's own conform to this.
///
/// Every call happens on the gateway's loop thread. A handler sends with `session.send(...)` and
/// ends the session with `session.close(...)`; it must not block.
public protocol SessionHandler: AnyObject {
    /// The handshake succeeded and the session is open.
    func sessionDidOpen(_ session: Session)
    /// A whole message arrived.
    func session(_ session: Session, didReceive message: Message)
    /// A whole message arrived, lent: `bytes` (valid UTF-8 when `isText`) are valid only during the
    /// call. A handler that only copies the bytes on (the echo, a program's stdin) saves making a
    /// `Message`; the default makes one and calls `session(_:didReceive:)`.
    func session(_ session: Session, didReceive bytes: UnsafeRawBufferPointer, isText: Bool)
    /// The session ended; `code` is the close code received, or 1006 when the connection just dropped.
    func sessionDidClose(_ session: Session, code: CloseCode, reason: String)
    /// The client sent a close frame. Return true to hold the reply back until the handler calls
    /// `session.finishClosing()` (within the close timeout), to send what it still owes first.
    func sessionDidReceiveClose(_ session: Session) -> Bool
    /// The client's send queue went over `maxQueuedBytes` and has now drained below half of it:
    /// a producer that stopped to let it drain can go on.
    func sessionDidDrainOutput(_ session: Session)
}

extension SessionHandler {
    public func session(_ session: Session, didReceive bytes: UnsafeRawBufferPointer, isText: Bool) {
        self.session(session, didReceive: isText ? .text(String(decoding: bytes, as: UTF8.self)) : .binary(Array(bytes)))
    }
    public func sessionDidOpen(_ session: Session) {}
    public func sessionDidDrainOutput(_ session: Session) {}
    public func sessionDidReceiveClose(_ session: Session) -> Bool { false }
    public func sessionDidClose(_ session: Session, code: CloseCode, reason: String) {}
}

/// A whole data message.
public enum Message: Equatable, Sendable {
    case text(String)
    case binary([UInt8])
}
