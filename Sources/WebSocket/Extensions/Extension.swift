/// A negotiated WebSocket extension that transforms whole messages (RFC 6455 §9).
///
/// The frame layer only learns which reserved bits the extension may set; it never knows what the
/// extension does. permessage-deflate (RFC 7692) is the one such extension in common use.
/// Deliberately not supported: extensions that act per frame or on control frames.
public protocol Extension: AnyObject {
    /// The token in `Sec-WebSocket-Extensions`, e.g. "permessage-deflate".
    var name: String { get }
    /// The reserved bits this extension may set on the first frame of a data message.
    var reservedBits: Frame.ReservedBits { get }
    /// Undoes the extension on a received message whose first frame carried `reservedBits`.
    /// - Parameter maxSize: the connection's message size limit, which also bounds the result.
    func decode(message: [UInt8], reservedBits: Frame.ReservedBits, maxSize: Int) throws(ProtocolViolation) -> [UInt8]
    /// Applies the extension to an outgoing message.
    /// - Returns: the payload to send and the reserved bits for its first frame.
    func encode(message: [UInt8], opcode: Opcode) -> (payload: [UInt8], reservedBits: Frame.ReservedBits)
}
