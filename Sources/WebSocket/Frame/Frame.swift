/// One WebSocket frame, unmasked (RFC 6455 §5.2).
///
/// The connection itself streams payloads and never builds these on its hot path; `Frame` is the
/// value type for encoding, for tests and for embedders that want to look at single frames.
public struct Frame: Equatable, Sendable {
    /// The three reserved bits, which only a negotiated extension may set (RFC 6455 §5.2).
    public struct ReservedBits: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue & 0x70 }
        public static let rsv1 = ReservedBits(rawValue: 0x40)
        public static let rsv2 = ReservedBits(rawValue: 0x20)
        public static let rsv3 = ReservedBits(rawValue: 0x10)
    }

    public var fin: Bool
    public var reservedBits: ReservedBits
    public var opcode: Opcode
    public var payload: [UInt8]

    public init(fin: Bool = true, reservedBits: ReservedBits = [], opcode: Opcode, payload: [UInt8] = []) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.payload = payload
    }
}
