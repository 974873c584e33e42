import WebSocket

/// What a request presents to prove who it is: the `Authorization` header (RFC 7617 Basic,
/// RFC 6750 Bearer), or for browsers, which cannot set headers on a WebSocket, `access_token` in
/// the query (RFC 6750 §2.3).
enum Credentials: Equatable {
    case basic(user: String, password: String)
    case bearer(String)

    /// The credentials of `head`, the header first; nil when it has none or none that parse.
    static func of(_ head: HTTPHead) -> Credentials? {
        if let header = head["Authorization"], let parsed = Self.parse(authorization: header) { return parsed }
        if let token = Self.accessToken(inQuery: head.query ?? "") { return .bearer(token) }
        return nil
    }

    /// `Basic dXNlcjpwYXNz` or `Bearer T`; the scheme's name is case-insensitive (RFC 7235 §2.1).
    static func parse(authorization value: String) -> Credentials? {
        let trimmed = value.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        let scheme = trimmed[..<space].lowercased()
        let parameter = String(trimmed[space...].drop { $0 == " " }).trimmingSpaces()
        guard !parameter.isEmpty else { return nil }
        switch scheme {
        case "basic":
            // RFC 7617 §2: user-id ":" password, the user-id without a colon.
            guard let decoded = Base64.decode(parameter), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
                return nil
            }
            return .basic(user: String(decoding: decoded[..<colon], as: UTF8.self),
                          password: String(decoding: decoded[(colon + 1)...], as: UTF8.self))
        case "bearer":
            return .bearer(parameter)
        default:
            return nil
        }
    }

    /// The percent-decoded value of the first `access_token=` in `query`; nil when absent or empty.
    static func accessToken(inQuery query: String) -> String? {
        for pair in query.split(separator: "&") {
            guard pair.hasPrefix("access_token=") else { continue }
            let value = Self.percentDecoded(pair.dropFirst("access_token=".count))
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// `%41` → `A`, `+` → space (form encoding); a malformed escape stays as written.
    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                      let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
