/// A close status code (RFC 6455 §7.4).
///
/// An open set, so a struct rather than an enum: 3000–4999 are application codes that any peer may use.
public struct CloseCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let normalClosure = CloseCode(1000)
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    public static let unsupportedData = CloseCode(1003)
    /// Never on the wire: stands for "the close frame had no code" (RFC 6455 §7.1.5).
    public static let noStatusReceived = CloseCode(1005)
    /// Never on the wire: stands for "the connection closed without a close frame" (RFC 6455 §7.1.5).
    public static let abnormalClosure = CloseCode(1006)
    public static let invalidData = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let mandatoryExtension = CloseCode(1010)
    public static let internalError = CloseCode(1011)
    /// The service is restarting (IANA registry): a shared program that exited and is started again.
    public static let serviceRestart = CloseCode(1012)
    /// The server is overloaded; try again later (IANA registry).
    public static let tryAgainLater = CloseCode(1013)

    /// Whether a peer may put this code in a close frame (RFC 6455 §7.4.1, §7.4.2).
    ///
    /// 1000–1003 and 1007–1011 are defined for use on the wire; 3000–4999 belong to libraries and
    /// applications. 1004 is reserved, 1005, 1006 and 1015 must never be sent, and everything else in
    /// 0–2999 is reserved for future revisions, so receiving one is a protocol error.
    public var isAllowedOnWire: Bool {
        switch self.rawValue {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }

    /// Whether wsgate may put this code in a close frame it sends: every code a peer may send, and
    /// 1012–1014, which IANA registered after RFC 6455 (service restart, try again later, bad
    /// gateway). Receiving those stays a protocol error, as the conformance suite expects of an
    /// RFC 6455 endpoint.
    public var isSendable: Bool {
        self.isAllowedOnWire || (1012...1014).contains(self.rawValue)
    }
}

extension CloseCode: CustomStringConvertible {
    public var description: String {
        let name: String? =
            switch self.rawValue {
            case 1000: "OK"
            case 1001: "going away"
            case 1002: "protocol error"
            case 1003: "unsupported data"
            case 1005: "no status received"
            case 1006: "abnormal closure"
            case 1007: "invalid data"
            case 1008: "policy violation"
            case 1009: "message too big"
            case 1010: "mandatory extension"
            case 1011: "internal error"
            case 1012: "service restart"
            case 1013: "try again later"
            case 1014: "bad gateway"
            default: nil
            }
        return name.map { "\(self.rawValue) (\($0))" } ?? "\(self.rawValue)"
    }
}
