/// The server's half of the opening handshake (RFC 6455 §4.2): checks a request, builds the 101 or
/// the exact refusal.
///
/// Pure: it neither routes nor reads; the caller parses the head with `HTTPHeadParser`, decides the
/// path is served, then asks `accept`.
public struct ServerHandshake: Sendable {
    /// Subprotocols this endpoint speaks, most preferred first.
    public var subprotocols: [String]
    /// Extra fields for every 101 response (e.g. websocketd's `--header-ws`).
    public var extraHeaders: [(name: String, value: String)]

    public init(subprotocols: [String] = [], extraHeaders: [(name: String, value: String)] = []) {
        self.subprotocols = subprotocols
        self.extraHeaders = extraHeaders
    }

    /// What an accepted handshake agreed on, and the 101 response to write.
    public struct Accepted: Equatable, Sendable {
        public var response: HTTPHead
        /// The subprotocol selected, if the client offered one this endpoint speaks.
        public var subprotocol: String?
        /// The permessage-deflate parameters agreed, when compression was allowed and offered.
        public var deflate: PerMessageDeflate.Agreement?
    }

    /// The GUID of RFC 6455 §1.3 that every accept key is derived with.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2 step 5.4).
    public static func acceptKey(for key: String) -> String {
        var joined: [UInt8] = []
        joined.reserveCapacity(key.utf8.count + 36)
        joined.append(contentsOf: key.utf8)
        joined.append(contentsOf: Self.guid.utf8)
        return Base64.encode(SHA1.hash(joined))
    }

    /// Checks the request in RFC 6455 §4.2.1's order and returns the 101, or the refusal to send.
    /// - Parameter compression: how this route compresses; nil declines permessage-deflate. An offer
    ///   that cannot be accepted is declined, never refused (RFC 7692 §5).
    public func accept(_ request: HTTPHead, compression: PerMessageDeflate.Configuration? = nil)
        -> Result<Accepted, HandshakeFailure>
    {
        guard case .request(let method, _, let version) = request.startLine else {
            return .failure(.malformed("not a request"))
        }
        // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request".
        guard method == "GET" else { return .failure(.methodNotAllowed(method)) }
        guard version == "HTTP/1.1" else { return .failure(.unsupportedHTTPVersion(version)) }
        // A GET upgrade has no body: the bytes after its head are the client's first frames. One
        // that announces a body (RFC 9112 §6.1, §6.2) would have that body read as frames, so it is
        // refused, Content-Length: 0 included (as python-websockets does).
        for field in ["Transfer-Encoding", "Content-Length"] where request.hasField(field) {
            return .failure(.malformed("an upgrade request has no body, but it has \(field)"))
        }
        guard let resource = request.originForm, resource.hasPrefix("/") else {
            return .failure(.malformed("request target must be a path or an absolute http(s) URI"))
        }
        let host = request.onlyValue(of: "Host")
        guard let hostValue = host.value, !hostValue.isEmpty else {
            return .failure(host.count == 0 ? .missingHost : .malformed("more than one Host field"))
        }
        let connectionUpgrade = request.containsToken("upgrade", in: "Connection")
        guard request.containsToken("websocket", in: "Upgrade") else {
            return .failure(request.tokens(of: "Upgrade").isEmpty && !connectionUpgrade
                ? .notAnUpgrade : .badUpgrade(request["Upgrade"] ?? ""))
        }
        guard connectionUpgrade else { return .failure(.badConnection(request["Connection"] ?? "")) }
        guard let key = request.onlyValue(of: "Sec-WebSocket-Key").value else {
            let keys = request.values(of: "Sec-WebSocket-Key")
            return .failure(keys.isEmpty ? .missingKey : .badKey(keys.joined(separator: ", ")))
        }
        // RFC 6455 §4.1: "a randomly selected 16-byte value that has been base64-encoded".
        guard let decoded = Base64.decode(key), decoded.count == 16 else { return .failure(.badKey(key)) }
        guard request.onlyValue(of: "Sec-WebSocket-Version").value == "13" else {
            return .failure(.unsupportedVersion(request.values(of: "Sec-WebSocket-Version").joined(separator: ", ")))
        }

        var headers: [(name: String, value: String)] = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", Self.acceptKey(for: key)),
        ]
        // Subprotocol names are case-sensitive (RFC 7936 §3, and the client compares them exactly), so
        // an offer of "chat" does not select "Chat".
        let offered = self.subprotocols.isEmpty ? [] : request.listElements(of: "Sec-WebSocket-Protocol")
        let subprotocol = self.subprotocols.first { supported in offered.contains(supported) }
        if let subprotocol { headers.append(("Sec-WebSocket-Protocol", subprotocol)) }
        var deflate: PerMessageDeflate.Agreement?
        if let compression {
            let offers = ExtensionOffer.parse(request.values(of: "Sec-WebSocket-Extensions"))
            if let (agreement, answer) = PerMessageDeflate.negotiate(offers: offers, configuration: compression) {
                deflate = agreement
                headers.append(("Sec-WebSocket-Extensions", answer.headerValue))
            }
        }
        headers.append(contentsOf: self.extraHeaders)
        let response = HTTPHead(startLine: .response(version: "HTTP/1.1", status: 101, reason: "Switching Protocols"),
                                headers: headers)
        return .success(Accepted(response: response, subprotocol: subprotocol, deflate: deflate))
    }
}

/// Why a request was not upgraded; each case knows its HTTP response.
public enum HandshakeFailure: Error, Equatable, Sendable {
    case malformed(String)
    case headTooLarge(limit: Int)
    case methodNotAllowed(String)
    case unsupportedHTTPVersion(String)
    case missingHost
    /// A plain HTTP request, with neither `Upgrade` nor `Connection: upgrade`.
    case notAnUpgrade
    case badUpgrade(String)
    case badConnection(String)
    case missingKey
    case badKey(String)
    case unsupportedVersion(String)

    /// The failure behind an `HTTPHeadParser` error.
    public init(_ failure: HTTPHeadParser.Failure) {
        switch failure {
        case .tooLarge(let limit): self = .headTooLarge(limit: limit)
        case .malformed(let what): self = .malformed(what)
        }
    }

    /// The response that reports this failure, then closes the connection.
    public var response: HTTPResponse {
        switch self {
        case .malformed(let what): HTTPResponse(status: 400, body: "bad request: \(what)")
        case .headTooLarge(let limit): HTTPResponse(status: 431, body: "request head larger than \(limit) bytes")
        case .methodNotAllowed(let method):
            HTTPResponse(status: 405, headers: [("Allow", "GET")], body: "method \(method) not allowed: use GET")
        case .unsupportedHTTPVersion(let version):
            HTTPResponse(status: 505, body: "\(version) not supported: a WebSocket handshake needs HTTP/1.1")
        case .missingHost: HTTPResponse(status: 400, body: "missing Host header")
        case .notAnUpgrade:
            HTTPResponse(status: 426, headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")],
                         body: "this is a WebSocket endpoint: upgrade required")
        case .badUpgrade(let value):
            HTTPResponse(status: 426, headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")],
                         body: "Upgrade header must name websocket, got '\(value)'")
        case .badConnection(let value):
            HTTPResponse(status: 400, body: "Connection header must include upgrade, got '\(value)'")
        case .missingKey: HTTPResponse(status: 400, body: "missing Sec-WebSocket-Key header")
        case .badKey(let value):
            HTTPResponse(status: 400, body: "Sec-WebSocket-Key must be 16 bytes in base64, got '\(value)'")
        case .unsupportedVersion(let value):
            // RFC 6455 §4.4: answer with the versions this server understands.
            HTTPResponse(status: 426, headers: [("Sec-WebSocket-Version", "13")],
                         body: value.isEmpty ? "missing Sec-WebSocket-Version header"
                             : "unsupported Sec-WebSocket-Version '\(value)': use 13")
        }
    }
}
