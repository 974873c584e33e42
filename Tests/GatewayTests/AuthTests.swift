import Reactor
import Testing
import WebSocket

@testable import Gateway

/// Hashes made once with `openssl passwd -6` and libxcrypt's crypt_gensalt, each of "secret".
enum AuthVectors {
    static let sha512 = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
    static let bcrypt = "$2b$04$vTnkQ4dQAHTDEHj/cQNKmeGDFmukatpodqaHxG0J9hi1eaKvTX8iO"
    static let yescrypt = "$y$j9T$CMkERvELaqhICO9EBj4FF1$qtZRLKdxzS956x8U1FcTcOR2P4M76mR6yRgmav4tr05"
    static let md5 = "$1$abc$iCQ2D3nhptRYi27fDYv2s1"
}

@Suite("Auth: htpasswd hashes, credential files, Authorization parsing, the decision")
struct AuthTests {
    @Test(arguments: [AuthVectors.sha512, AuthVectors.bcrypt, AuthVectors.yescrypt, "$2y$" + AuthVectors.bcrypt.dropFirst(4)])
    func hashVerifiesItsPasswordOnly(hash: String) throws {
        let parsed = try #require(PasswordHash(hash))
        #expect(parsed.verify("secret"))
        #expect(!parsed.verify("Secret"))
        #expect(!parsed.verify(""))
    }

    /// Formats libxcrypt does not hash with (Apache's MD5, {SHA}, plain) or calls legacy are refused.
    @Test(arguments: ["$apr1$abc$def", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret", "", AuthVectors.md5, "$6$"])
    func unusableHashIsRefused(hash: String) {
        #expect(PasswordHash(hash) == nil)
    }

    @Test func constantTimeEqualityComparesWholeInputs() {
        #expect(ConstantTime.equal(Array("abc".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equal(Array("abc".utf8), Array("abd".utf8)))
        #expect(!ConstantTime.equal(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!ConstantTime.equal(Array("abcd".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equal([UInt8](), Array("a".utf8)))
        #expect(ConstantTime.equal([UInt8](), [UInt8]()))
        // Lengths 256 apart must not look equal through the low byte of the difference.
        #expect(!ConstantTime.equal([UInt8](repeating: 0, count: 256), [UInt8]()))
    }

    @Test func htpasswdSkipsCommentsAndBlankLines() throws {
        let text = "# users\n\nalice:\(AuthVectors.bcrypt)\r\n  bob:\(AuthVectors.sha512)  \n"
        let file = try Htpasswd(parsing: text, file: "f")
        #expect(file.hashes.keys.sorted() == ["alice", "bob"])
        #expect(file.hashes["bob"]?.text == AuthVectors.sha512)
    }

    @Test(arguments: [
        ("alice:\(AuthVectors.bcrypt)\nnocolon\n", "f:2: not user:hash"),
        (":\(AuthVectors.bcrypt)\n", "f:1: not user:hash"),
        ("# only\n\n", "f: no users"),
        ("a:\(AuthVectors.bcrypt)\na:\(AuthVectors.sha512)\n", "f:2: user 'a' appears twice"),
        ("\n\nbob:$apr1$x$y\n", "f:3: user 'bob': not a hash crypt(3) accepts (use bcrypt: htpasswd -B, or openssl passwd -6)"),
    ])
    func htpasswdErrorsNameTheLine(text: String, message: String) {
        #expect(throws: CredentialFileError.self) { try Htpasswd(parsing: text, file: "f") }
        do { _ = try Htpasswd(parsing: text, file: "f") } catch { #expect(error.description == message) }
    }

    @Test func tokensAreMatchedWhole() throws {
        let tokens = try BearerTokens(parsing: "# tokens\nabc123\n\nxyz\n", file: "t")
        #expect(tokens.contains("abc123".utf8))
        #expect(tokens.contains("xyz".utf8))
        #expect(!tokens.contains("abc12".utf8))
        #expect(!tokens.contains("abc1234".utf8))
        #expect(!tokens.contains("".utf8))
        #expect(throws: CredentialFileError(file: "t", line: 2, reason: "a token has no spaces")) {
            try BearerTokens(parsing: "ok\na b\n", file: "t")
        }
        #expect(throws: CredentialFileError(file: "t", line: nil, reason: "no tokens")) {
            try BearerTokens(parsing: "\n#\n", file: "t")
        }
    }

    @Test(arguments: [
        ("Basic YWxpY2U6c2VjcmV0", Credentials.basic(user: "alice", password: "secret")),
        ("basic   YWxpY2U6c2VjcmV0  ", .basic(user: "alice", password: "secret")),
        // RFC 7617: the password may hold colons, the user may not.
        ("Basic YTpiOmM=", .basic(user: "a", password: "b:c")),
        ("Basic YTo=", .basic(user: "a", password: "")),
        ("Bearer tok-en.1", .bearer("tok-en.1")),
        ("BEARER t", .bearer("t")),
    ])
    func authorizationHeaderParses(header: String, expected: Credentials) {
        #expect(Credentials.parse(authorization: header) == expected)
    }

    @Test(arguments: ["Basic", "Basic !!!!", "Basic YWxpY2U=", "Digest abc", "Bearer", "Bearer ", ""])
    func malformedAuthorizationIsNoCredentials(header: String) {
        #expect(Credentials.parse(authorization: header) == nil)
    }

    @Test func accessTokenComesFromTheQuery() {
        #expect(Credentials.accessToken(inQuery: "a=1&access_token=t%2Bk+x&b=2") == "t+k x")
        #expect(Credentials.accessToken(inQuery: "xaccess_token=t") == nil)
        #expect(Credentials.accessToken(inQuery: "access_token=") == nil)
        #expect(Credentials.accessToken(inQuery: "access_token=%zz") == "%zz")
        let head = Self.request("/x?access_token=abc", headers: [])
        #expect(Credentials.of(head) == .bearer("abc"))
        // The header wins over the query.
        let both = Self.request("/x?access_token=abc", headers: [("Authorization", "Bearer def")])
        #expect(Credentials.of(both) == .bearer("def"))
    }

    @Test func basicPolicyAsksForCredentialsThenAPasswordCheck() throws {
        var store = CredentialStore()
        store.htpasswd["h"] = try Htpasswd(parsing: "alice:\(AuthVectors.bcrypt)\n", file: "h")
        let policy = AuthPolicy.basic(file: "h")
        guard case .refused(let missing) = AuthCheck.of(Self.request("/", headers: []), under: policy, files: store) else {
            Issue.record("no credentials must be refused")
            return
        }
        #expect(missing.status == 401)
        #expect(missing.headers.first { $0.name == "WWW-Authenticate" }?.value.hasPrefix("Basic realm=\"wsgate\"") == true)
        let unknown = Self.request("/", headers: [("Authorization", "Basic " + Base64.encode(Array("eve:secret".utf8)))])
        guard case .refused(let refusal) = AuthCheck.of(unknown, under: policy, files: store) else {
            Issue.record("an unknown user must be refused")
            return
        }
        #expect(refusal.status == 401)
        let known = Self.request("/", headers: [("Authorization", "Basic " + Base64.encode(Array("alice:pw".utf8)))])
        guard case .verifyPassword(let user, let password, let hash) = AuthCheck.of(known, under: policy, files: store)
        else {
            Issue.record("a known user's password must be checked")
            return
        }
        #expect(user == "alice" && password == "pw" && hash.text == AuthVectors.bcrypt)
        // A bearer token is no Basic credential.
        let bearer = Self.request("/", headers: [("Authorization", "Bearer x")])
        guard case .refused = AuthCheck.of(bearer, under: policy, files: store) else {
            Issue.record("a token must not pass Basic")
            return
        }
    }

    @Test func bearerPolicyAllowsAKnownTokenOnly() throws {
        var store = CredentialStore()
        store.tokens["t"] = try BearerTokens(parsing: "good\n", file: "t")
        let policy = AuthPolicy.bearer(file: "t")
        let good = Self.request("/?access_token=good", headers: [])
        guard case .allowed(let who) = AuthCheck.of(good, under: policy, files: store) else {
            Issue.record("a known token must pass")
            return
        }
        #expect(who == Authentication(user: "", type: "Bearer"))
        for head in [Self.request("/", headers: [("Authorization", "Bearer bad")]), Self.request("/", headers: [])] {
            guard case .refused(let response) = AuthCheck.of(head, under: policy, files: store) else {
                Issue.record("a wrong or missing token must be refused")
                continue
            }
            #expect(response.status == 401)
            #expect(response.headers.contains { $0.name == "WWW-Authenticate" && $0.value.hasPrefix("Bearer") })
        }
    }

    @Test(arguments: [
        ("basic:/etc/wsgate/users", AuthPolicy.basic(file: "/etc/wsgate/users")),
        ("bearer:tokens.txt", .bearer(file: "tokens.txt")),
        ("command:./check --strict 'a b'", .command(ProgramCommand(executable: "./check", arguments: ["--strict", "a b"]))),
    ])
    func policyParses(text: String, expected: AuthPolicy) throws {
        #expect(try AuthPolicy(parsing: text) == expected)
    }

    @Test(arguments: ["basic", "basic:", "digest:f", "command:'unclosed"])
    func badPolicyIsAnError(text: String) {
        #expect(throws: AuthPolicy.ParseError.self) { try AuthPolicy(parsing: text) }
    }

    static func request(_ target: String, headers: [(String, String)]) -> HTTPHead {
        HTTPHead(startLine: .request(method: "GET", target: target, version: "HTTP/1.1"),
                 headers: headers.map { (name: $0.0, value: $0.1) })
    }
}
