/// The client's half of the opening handshake (RFC 6455 §4.1): the request to send and the check of
/// the server's answer.
public struct ClientHandshake: Sendable {
    /// The `Sec-WebSocket-Key` sent: 16 random bytes in Base64.
    public let key: String
    public var host: String
    public var target: String
    public var origin: String?
    public var subprotocols: [String]
    public var extraHeaders: [(name: String, value: String)]
    /// permessage-deflate to offer, or nil for none.
    public var compression: PerMessageDeflate.Configuration?

    /// What the server's response agreed.
    public struct Accepted: Equatable, Sendable {
        public var subprotocol: String?
        /// The permessage-deflate parameters, when the server accepted the offer.
        public var deflate: PerMessageDeflate.Agreement?
    }

    /// - Parameters:
    ///   - host: the `Host` value, with ":port" unless it is the scheme's default.
    ///   - target: path and query, "/chat?room=1".
    ///   - keyBytes: the 16 nonce bytes; random unless a test pins them.
    public init(host: String, target: String = "/", origin: String? = nil, subprotocols: [String] = [],
                extraHeaders: [(name: String, value: String)] = [], keyBytes: [UInt8]? = nil,
                compression: PerMessageDeflate.Configuration? = nil) {
        var generator = SystemRandomNumberGenerator()
        let nonce = keyBytes ?? (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        precondition(nonce.count == 16, "the handshake nonce is 16 bytes")
        self.key = Base64.encode(nonce)
        self.host = host
        self.target = target
        self.origin = origin
        self.subprotocols = subprotocols
        self.extraHeaders = extraHeaders
        self.compression = compression
    }

    /// The request head.
    public var request: HTTPHead {
        var headers: [(name: String, value: String)] = [
            ("Host", self.host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key), ("Sec-WebSocket-Version", "13"),
        ]
        if let origin { headers.append(("Origin", origin)) }
        if !self.subprotocols.isEmpty { headers.append(("Sec-WebSocket-Protocol", self.subprotocols.joined(separator: ", "))) }
        if let compression {
            let offer = PerMessageDeflate.offer(configuration: compression)
            headers.append(("Sec-WebSocket-Extensions", offer.headerValue))
        }
        headers.append(contentsOf: self.extraHeaders)
        return HTTPHead(startLine: .request(method: "GET", target: self.target, version: "HTTP/1.1"), headers: headers)
    }

    /// Checks the server's response (RFC 6455 §4.1, "the client MUST validate the server's response").
    /// - Returns: the subprotocol the server selected, if any.
    public func validate(_ response: HTTPHead) throws(ClientHandshakeError) -> String? {
        try self.validateResponse(response).subprotocol
    }

    /// Checks the server's response, as `validate` does, and returns everything it agreed.
    public func validateResponse(_ response: HTTPHead) throws(ClientHandshakeError) -> Accepted {
        guard case .response(_, let status, let reason) = response.startLine else { throw .malformed("not a response") }
        guard status == 101 else { throw .unexpectedStatus(status, reason) }
        guard response.tokens(of: "Upgrade").contains("websocket") else { throw .badUpgrade(response["Upgrade"]) }
        guard response.tokens(of: "Connection").contains("upgrade") else {
            throw .badConnection(response["Connection"])
        }
        let expected = ServerHandshake.acceptKey(for: self.key)
        guard let accept = response["Sec-WebSocket-Accept"] else { throw .missingAccept }
        guard accept == expected else { throw .wrongAccept(expected: expected, received: accept) }
        // RFC 6455 §4.1: extensions and subprotocols "not present in the client's handshake" fail the connection.
        var deflate: PerMessageDeflate.Agreement?
        if let extensions = response["Sec-WebSocket-Extensions"], !extensions.isEmpty {
            // RFC 7692 §7.1: the client fails the connection on a response its offer does not allow.
            let answers = ExtensionOffer.parse(response.values(of: "Sec-WebSocket-Extensions"))
            guard let compression = self.compression, answers.count == 1,
                let agreement = PerMessageDeflate.agreement(accepting: answers[0], offered: compression)
            else { throw .unexpectedExtensions(extensions) }
            deflate = agreement
        }
        let selected = response.values(of: "Sec-WebSocket-Protocol")
        guard selected.count <= 1 else { throw .unexpectedSubprotocol(selected.joined(separator: ", ")) }
        guard let subprotocol = selected.first else { return Accepted(subprotocol: nil, deflate: deflate) }
        guard self.subprotocols.contains(subprotocol) else { throw .unexpectedSubprotocol(subprotocol) }
        return Accepted(subprotocol: subprotocol, deflate: deflate)
    }
}

/// Why a server's handshake response was refused.
public enum ClientHandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unexpectedStatus(Int, String)
    case badUpgrade(String?)
    case badConnection(String?)
    case missingAccept
    case wrongAccept(expected: String, received: String)
    case unexpectedSubprotocol(String)
    case unexpectedExtensions(String)

    public var description: String {
        switch self {
        case .malformed(let what): "malformed handshake response: \(what)"
        case .unexpectedStatus(let status, let reason): "server answered \(status) \(reason), not 101"
        case .badUpgrade(let value): "response Upgrade header is \(value.map { "'\($0)'" } ?? "missing"), not websocket"
        case .badConnection(let value):
            "response Connection header is \(value.map { "'\($0)'" } ?? "missing"), not upgrade"
        case .missingAccept: "response has no Sec-WebSocket-Accept header"
        case .wrongAccept(let expected, let received):
            "wrong Sec-WebSocket-Accept: expected \(expected), got \(received)"
        case .unexpectedSubprotocol(let value): "server selected subprotocol '\(value)' that was not offered"
        case .unexpectedExtensions(let value): "server selected extensions '\(value)' that were not offered"
        }
    }
}
