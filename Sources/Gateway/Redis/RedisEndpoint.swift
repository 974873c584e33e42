/// Where a Redis is and how to log in: `redis://[[user]:password@]host[:port][/db]`.
///
/// The user and password may be percent-encoded (a `@` or `:` in a password is `%40`, `%3A`). No
/// user means Redis' `default` user (`AUTH password`); a user means an ACL user (`AUTH user
/// password`, Redis 6+). Deliberately not done: `rediss://` (TLS), Unix sockets, Sentinel and
/// Cluster URLs, which are refused with a message rather than misread.
public struct RedisEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16 = 6379
    public var user: String?
    public var password: String?
    /// The logical database (`SELECT db`); 0 is Redis' default and needs no command. Pub/sub
    /// channels are not per database: only the prefix separates deployments that share a Redis.
    public var database = 0

    /// The URL without its password, for logs.
    public var description: String {
        let login = self.password == nil ? "" : "\(self.user ?? ""):***@"
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "redis://\(login)\(host):\(self.port)" + (self.database == 0 ? "" : "/\(self.database)")
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(host: String, port: UInt16 = 6379) {
        self.host = host
        self.port = port
    }

    public init(parsing url: String) throws(ParseError) {
        func fail(_ why: String) -> ParseError { ParseError(description: "'\(url)' \(why)") }
        guard url.hasPrefix("redis://") else {
            if url.hasPrefix("rediss://") { throw fail("asks for TLS, which wsgate's Redis client does not speak (use a local Redis or a TLS tunnel such as stunnel)") }
            throw fail("is not a redis://[[user]:password@]host[:port][/db] URL")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0, number <= 1_000_000 else {
                    throw fail("has '\(path)' where a database number belongs")
                }
                database = number
            }
        }
        guard !rest.contains("?"), !rest.contains("#") else { throw fail("has options, which wsgate does not read") }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let login = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = login.firstIndex(of: ":") {
                let name = login[..<colon]
                guard let decodedPassword = Self.percentDecoded(login[login.index(after: colon)...]),
                      let decodedName = Self.percentDecoded(name) else { throw fail("has a bad %-escape in its login") }
                user = name.isEmpty ? nil : decodedName
                password = decodedPassword
            } else {
                // redis-cli and most clients read `redis://secret@host` as a password alone.
                guard let decoded = Self.percentDecoded(login) else { throw fail("has a bad %-escape in its login") }
                password = decoded
            }
            guard password?.isEmpty == false else { throw fail("has an empty password") }
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("has an unclosed [ in its host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("has text after its [host]") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw fail("names no host") }
        self.init(host: String(host))
        if let portText {
            guard let port = UInt16(portText), port > 0 else { throw fail("has '\(portText)' where a port belongs") }
            self.port = port
        }
        self.user = user
        self.password = password
        self.database = database
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex, utf8.index(after: first) < utf8.endIndex,
                      let high = Self.hexValue(utf8[first]), let low = Self.hexValue(utf8[utf8.index(after: first)])
                else { return nil }
                bytes.append(high << 4 | low)
                index = utf8.index(first, offsetBy: 2)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// The commands that log in and choose the database, sent first on every connection.
    var handshakeCommands: [[UInt8]] {
        var commands: [[UInt8]] = []
        if let password = self.password {
            commands.append(self.user.map { RESPEncoder.command("AUTH", $0, password) } ?? RESPEncoder.command("AUTH", password))
        }
        if self.database != 0 { commands.append(RESPEncoder.command("SELECT", String(self.database))) }
        return commands
    }
}
