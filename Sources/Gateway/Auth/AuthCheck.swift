import Reactor
import WebSocket

/// The first step of checking a request against an `AuthPolicy`, without I/O: let it in, refuse
/// it, or the slow part that must run off the loop thread (a password hash, a program).
enum AuthCheck {
    case allowed(Authentication)
    case refused(HTTPResponse)
    /// Allowed if `password` matches `hash` (a crypt(3) check: 50–100 ms for bcrypt).
    case verifyPassword(user: String, password: String, hash: PasswordHash)
    /// Allowed if the program exits 0.
    case runCommand(ProgramCommand)

    /// Decides what `head` gets under `policy`, with its credential files as loaded.
    static func of(_ head: HTTPHead, under policy: AuthPolicy, files: CredentialStore) -> AuthCheck {
        switch policy {
        case .basic(let file):
            guard case .basic(let user, let password) = Credentials.of(head) else {
                return .refused(Self.unauthorized(policy, "credentials required"))
            }
            guard let hash = files.htpasswd[file]?.hashes[user] else {
                return .refused(Self.unauthorized(policy, "wrong user or password"))
            }
            return .verifyPassword(user: user, password: password, hash: hash)
        case .bearer(let file):
            guard case .bearer(let token) = Credentials.of(head) else {
                return .refused(Self.unauthorized(policy, "token required"))
            }
            guard files.tokens[file]?.contains(token.utf8) == true else {
                return .refused(Self.unauthorized(policy, "wrong token"))
            }
            // A token names no user: REMOTE_USER stays empty.
            return .allowed(Authentication(user: "", type: policy.authType))
        case .command(let command):
            return .runCommand(command)
        }
    }

    /// 401 with the challenge of the policy's scheme (RFC 7235 §3.1: a 401 "MUST send a
    /// WWW-Authenticate header field").
    static func unauthorized(_ policy: AuthPolicy, _ reason: String) -> HTTPResponse {
        let challenge = switch policy {
        case .bearer: "Bearer realm=\"\(AuthPolicy.realm)\""
        default: "Basic realm=\"\(AuthPolicy.realm)\", charset=\"UTF-8\""
        }
        return HTTPResponse(status: 401, headers: [("WWW-Authenticate", challenge)], body: reason)
    }

    /// 403 for a request the auth command refused.
    static func forbidden(_ reason: String) -> HTTPResponse {
        HTTPResponse(status: 403, body: reason)
    }
}

extension AuthPolicy {
    /// Reads the policy's file, if it has one, as the gateway will: for a command line or a
    /// configuration file to name a bad file before anything is served (`wsgate check` too).
    public func checkCredentialFile() throws(CredentialFileError) {
        _ = try CredentialStore.load(for: [self])
    }
}

/// Every credential file the routes' policies name, read at start and again on SIGHUP.
struct CredentialStore {
    var htpasswd: [String: Htpasswd] = [:]
    var tokens: [String: BearerTokens] = [:]

    /// Reads each file `policies` name.
    /// - Throws: `CredentialFileError` for the first file that is missing, unreadable or invalid.
    static func load(for policies: [AuthPolicy]) throws(CredentialFileError) -> CredentialStore {
        var store = CredentialStore()
        for policy in policies {
            switch policy {
            case .basic(let file) where store.htpasswd[file] == nil:
                store.htpasswd[file] = try Htpasswd(parsing: try Self.text(of: file), file: file)
            case .bearer(let file) where store.tokens[file] == nil:
                store.tokens[file] = try BearerTokens(parsing: try Self.text(of: file), file: file)
            default:
                continue
            }
        }
        return store
    }

    private static func text(of file: String) throws(CredentialFileError) -> String {
        do {
            return String(decoding: try FileContents.read(file, limit: 4 << 20), as: UTF8.self)
        } catch {
            throw CredentialFileError(file: file, line: nil, reason: "cannot read: \(error.errno)")
        }
    }
}
