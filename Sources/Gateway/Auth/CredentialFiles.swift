import Reactor

/// An htpasswd file: `user:hash` per line, where the hash is crypt(3)'s (`htpasswd -B` writes
/// bcrypt, `openssl passwd -6` sha512-crypt, `mkpasswd -m yescrypt` yescrypt).
///
/// Blank lines and lines starting with `#` are skipped. A line that is not `user:hash`, a user
/// named twice, and a hash libxcrypt does not accept (Apache's default `$apr1$` MD5, `{SHA}`,
/// plain text, DES) are errors naming the line, so a file that would refuse everyone is refused
/// at start instead.
struct Htpasswd: Equatable {
    private(set) var hashes: [String: PasswordHash] = [:]

    init(parsing text: String, file: String) throws(CredentialFileError) {
        for (number, line) in Self.lines(of: text) {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw CredentialFileError(file: file, line: number, reason: "not user:hash")
            }
            let user = String(line[..<colon])
            let text = String(line[line.index(after: colon)...])
            guard let hash = PasswordHash(text) else {
                throw CredentialFileError(
                    file: file, line: number,
                    reason: "user '\(user)': not a hash crypt(3) accepts (use bcrypt: htpasswd -B, or openssl passwd -6)")
            }
            guard self.hashes.updateValue(hash, forKey: user) == nil else {
                throw CredentialFileError(file: file, line: number, reason: "user '\(user)' appears twice")
            }
        }
        guard !self.hashes.isEmpty else { throw CredentialFileError(file: file, line: nil, reason: "no users") }
    }

    /// The numbered lines that hold something (LF or CRLF ends a line; "\r\n" is one Character):
    /// surrounding white space trimmed, blank lines
    /// and `#` comments left out.
    static func lines(of text: String) -> [(Int, Substring)] {
        var result: [(Int, Substring)] = []
        let raws = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, raw) in raws.enumerated() {
            var line = raw[...]
            while let last = line.last, last == "\r" || last == " " || last == "\t" { line.removeLast() }
            while let first = line.first, first == " " || first == "\t" { line.removeFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            result.append((index + 1, line))
        }
        return result
    }
}

/// A bearer token file: one token per line; blank lines and `#` comments skipped.
struct BearerTokens: Equatable {
    private(set) var tokens: [[UInt8]] = []

    init(parsing text: String, file: String) throws(CredentialFileError) {
        for (number, line) in Htpasswd.lines(of: text) {
            guard !line.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw CredentialFileError(file: file, line: number, reason: "a token has no spaces")
            }
            self.tokens.append(Array(line.utf8))
        }
        guard !self.tokens.isEmpty else { throw CredentialFileError(file: file, line: nil, reason: "no tokens") }
    }

    /// Whether `token` is one of the file's. Every token is compared, each in constant time, so
    /// the time says neither which token nor how much of one matched.
    func contains(_ token: some Collection<UInt8>) -> Bool {
        var found = false
        for candidate in self.tokens where ConstantTime.equal(candidate, token) { found = true }
        return found
    }
}

/// A credential file that cannot be used: the file, the line when one is to blame, and why.
public struct CredentialFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var reason: String

    public var description: String {
        if let line { return "\(self.file):\(line): \(self.reason)" }
        return "\(self.file): \(self.reason)"
    }
}
