import WebSocket

/// The environment of a program handler: websocketd's CGI-style variables (RFC 3875), plus only the
/// variables of wsgate's own environment that the operator passes through.
///
/// Values have each CR and LF replaced by a space and surrounding white space trimmed, as websocketd
/// does, so a header cannot smuggle a second line into a variable. Deliberately unlike websocketd:
///
/// - A `Proxy` request header does not become HTTP_PROXY (httpoxy, CVE-2016-5385): programs and
///   their HTTP libraries take that variable as their proxy. Apache and nginx drop it too.
/// - A header whose name has anything but letters, digits and `-` is dropped (Apache 2.4's rule; nginx
///   drops names with `_` by default). `X_Api_Key` would otherwise land in the same HTTP_X_API_KEY as
///   `X-Api-Key`, and could stand in for a header that a proxy in front checked or set.
/// - A passed-through variable never replaces one that wsgate sets itself, HTTPS included.
struct CGIEnvironment {
    var variables: [String: String] = [:]

    struct Request {
        var head: HTTPHead
        var remoteHost: String
        /// nil for a client on a Unix socket: REMOTE_PORT is empty.
        var remotePort: UInt16?
        var localPort: UInt16
        var scriptName: String
        var pathInfo: String
        var uniqueID: String
        var serverSoftware: String
        /// Over TLS, what the client's certificate said; nil over plain TCP.
        var tls: TLSPeer? = nil
        /// Who the route's auth policy let in: REMOTE_USER and AUTH_TYPE; nil leaves them empty.
        var authentication: Authentication? = nil
    }

    /// The TLS facts a program sees, under Apache mod_ssl's names (nginx's `$ssl_client_s_dn` and
    /// `$ssl_client_verify` hold the same values).
    struct TLSPeer {
        /// SSL_CLIENT_S_DN: the client certificate's subject, RFC 2253 form; nil without one.
        var subject: String?
        /// SSL_CLIENT_VERIFY: NONE, SUCCESS or FAILED:reason.
        var verify: String
    }

    init(_ request: Request, passing inherited: [String: String]) {
        let head = request.head
        let (serverName, serverPort) = Self.hostAndPort(head["Host"] ?? "", tls: request.tls != nil,
                                                        fallbackPort: request.localPort)
        self.set("SERVER_SOFTWARE", request.serverSoftware)
        self.set("REMOTE_ADDR", request.remoteHost)
        self.set("REMOTE_HOST", request.remoteHost)
        self.set("REMOTE_PORT", request.remotePort.map { String($0) } ?? "")
        self.set("SERVER_NAME", serverName)
        self.set("SERVER_PORT", serverPort)
        self.set("SERVER_PROTOCOL", Self.version(head))
        self.set("GATEWAY_INTERFACE", "CGI/1.1")
        self.set("REQUEST_METHOD", head.method ?? "GET")
        self.set("SCRIPT_NAME", request.scriptName)
        self.set("PATH_INFO", request.pathInfo)
        self.set("PATH_TRANSLATED", head.path ?? "")
        self.set("QUERY_STRING", head.query ?? "")
        self.set("REQUEST_URI", head.originForm ?? head.target ?? "")
        self.set("UNIQUE_ID", request.uniqueID)
        // Part of CGI but meaningless here: set empty so nothing leaks in from outside.
        for name in ["AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_IDENT", "REMOTE_USER"] {
            self.set(name, "")
        }
        if let who = request.authentication {
            self.set("AUTH_TYPE", who.type)
            self.set("REMOTE_USER", who.user)
        }
        if let tls = request.tls {
            self.set("HTTPS", "on")
            self.set("SSL_CLIENT_VERIFY", tls.verify)
            if let subject = tls.subject { self.set("SSL_CLIENT_S_DN", subject) }
        }
        // The operator's variables next, as websocketd passes them: never empty, never in place of
        // one set above. HTTPS is wsgate's even when it is not set: it says whether TLS is on.
        for (name, value) in inherited where self.variables[name] == nil && name != "HTTPS" && !name.hasPrefix("SSL_") {
            let value = Self.cleaned(value)
            if !value.isEmpty { self.variables[name] = value }
        }
        // The request's headers last: a passed-through HTTP_* is the operator's, and wins.
        var headers: [String: [String]] = [:]
        var order: [String] = []
        for (name, value) in head.headers where Self.isPassedHeader(name) {
            let key = "HTTP_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
            if headers[key] == nil { order.append(key) }
            headers[key, default: []].append(value)
        }
        for key in order where self.variables[key] == nil {
            self.set(key, headers[key]!.map(Self.cleaned).joined(separator: ", "))
        }
    }

    /// Whether a request header becomes an HTTP_* variable: its name is letters, digits and `-`
    /// only, and it is not `Proxy` (see the type's comment).
    static func isPassedHeader(_ name: String) -> Bool {
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return !(name.utf8.count == 5 && name.lowercased() == "proxy")
    }

    private mutating func set(_ name: String, _ value: String) {
        self.variables[name] = Self.cleaned(value)
    }

    /// websocketd's cleaning: each CR and LF becomes a space, then white space (Unicode's, as Go's
    /// `strings.TrimSpace`) is trimmed from both ends.
    static func cleaned(_ value: String) -> String {
        // Almost every value is clean already: check the bytes once before building a new string.
        let scalars = value.unicodeScalars
        let needsWork = value.utf8.contains { $0 == 0x0A || $0 == 0x0D }
            || scalars.first?.properties.isWhitespace == true || scalars.last?.properties.isWhitespace == true
        guard needsWork else { return value }
        var spaced = String.UnicodeScalarView()
        for scalar in scalars { spaced.append(scalar == "\n" || scalar == "\r" ? " " : scalar) }
        guard let first = spaced.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = spaced.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(spaced[first...last])
    }

    static func version(_ head: HTTPHead) -> String {
        if case .request(_, _, let version) = head.startLine { return version }
        return "HTTP/1.1"
    }

    /// SERVER_NAME and SERVER_PORT from the Host header, with the scheme's default port when it
    /// names none (websocketd's tellHostPort).
    static func hostAndPort(_ host: String, tls: Bool, fallbackPort: UInt16) -> (String, String) {
        let defaultPort = tls ? "443" : "80"
        if host.isEmpty { return ("", String(fallbackPort)) }
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let name = String(host[host.index(after: host.startIndex)..<close])
            let after = host[host.index(after: close)...]
            return (name, after.hasPrefix(":") ? String(after.dropFirst()) : defaultPort)
        }
        if let colon = host.lastIndex(of: ":") {
            return (String(host[..<colon]), String(host[host.index(after: colon)...]))
        }
        return (host, defaultPort)
    }
}
