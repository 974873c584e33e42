/// A parsed `ws://host:port/path?query` URL.
public struct WebSocketURL: Equatable, Sendable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: UInt16
    /// Path and query, "/chat?room=1".
    public var target: String

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(Invalid) {
        let rest: Substring
        if text.hasPrefix("ws://") {
            self.secure = false
            rest = text.dropFirst(5)
        } else if text.hasPrefix("wss://") {
            self.secure = true
            rest = text.dropFirst(6)
        } else {
            throw Invalid(description: "'\(text)' is not a ws:// or wss:// URL")
        }
        let slash = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<slash]
        let target = String(rest[slash...])
        self.target = target.isEmpty ? "/" : (target.hasPrefix("?") ? "/" + target : target)
        var host = Substring(authority)
        var port: UInt16 = self.secure ? 443 : 80
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw Invalid(description: "'\(text)': unclosed [ in host") }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if after.hasPrefix(":") {
                guard let value = UInt16(after.dropFirst()) else { throw Invalid(description: "'\(text)': bad port") }
                port = value
            } else if !after.isEmpty {
                throw Invalid(description: "'\(text)': unexpected text after ]")
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = UInt16(host[host.index(after: colon)...]) else { throw Invalid(description: "'\(text)': bad port") }
            port = value
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw Invalid(description: "'\(text)': no host") }
        self.host = String(host)
        self.port = port
    }

    /// The `Host` header value: the port only when it is not the scheme's default.
    public var hostHeader: String {
        let name = self.host.contains(":") ? "[\(self.host)]" : self.host
        return self.port == (self.secure ? 443 : 80) ? name : "\(name):\(self.port)"
    }

    public var description: String { "\(self.secure ? "wss" : "ws")://\(self.hostHeader)\(self.target)" }
}
