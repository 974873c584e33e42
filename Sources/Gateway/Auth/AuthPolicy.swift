/// Who may open a route's sessions (`--auth`, or a route's own `auth`): checked after the upgrade
/// request is read and before the route's program starts, so a refused client never runs it.
public enum AuthPolicy: Sendable, Equatable, CustomStringConvertible {
    /// HTTP Basic against an htpasswd file of crypt(3) hashes (bcrypt, sha512-crypt, yescrypt);
    /// 401 with `WWW-Authenticate: Basic realm="wsgate"` when missing or wrong.
    case basic(file: String)
    /// A token from a file of one token per line, sent as `Authorization: Bearer T` or as
    /// `access_token=T` in the query (browsers cannot set headers on a WebSocket); 401 when
    /// missing or wrong.
    case bearer(file: String)
    /// A program run with the request's CGI environment: exit 0 allows (its first stdout line, if
    /// any, is the user), anything else, or no exit within `GatewayServer.authCommandTimeout`,
    /// refuses with 403. nginx's `auth_request`.
    case command(ProgramCommand)

    /// The realm of the Basic challenge.
    public static let realm = "wsgate"

    /// Parses `basic:FILE`, `bearer:FILE` or `command:PROGRAM [ARGS]` (a command line as `--route`
    /// takes one).
    /// - Throws: `AuthPolicy.ParseError` naming what is wrong.
    public init(parsing text: String) throws(ParseError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw ParseError(description: "'\(text)' is not basic:FILE, bearer:FILE or command:PROGRAM")
        }
        let kind = text[..<colon]
        let rest = String(text[text.index(after: colon)...])
        guard !rest.isEmpty else { throw ParseError(description: "'\(text)': \(kind): needs a file or program") }
        switch kind {
        case "basic": self = .basic(file: rest)
        case "bearer": self = .bearer(file: rest)
        case "command":
            do {
                self = .command(try ProgramCommand(parsing: rest))
            } catch {
                throw ParseError(description: "'\(text)': \(error)")
            }
        default:
            throw ParseError(description: "'\(text)': unknown kind '\(kind)' (basic, bearer or command)")
        }
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// AUTH_TYPE for a program this policy let in.
    var authType: String {
        switch self {
        case .basic: "Basic"
        case .bearer: "Bearer"
        case .command: "Command"
        }
    }

    public var description: String {
        switch self {
        case .basic(let file): "basic:\(file)"
        case .bearer(let file): "bearer:\(file)"
        case .command(let command): "command:\(command)"
        }
    }
}

/// Who a request was let in as: the programs' REMOTE_USER and AUTH_TYPE. A class, so that a
/// session holds a pointer to it rather than two strings inline (most sessions have none).
public final class Authentication: Sendable, Equatable {
    public let user: String
    public let type: String

    public init(user: String, type: String) {
        self.user = user
        self.type = type
    }

    public static func == (left: Authentication, right: Authentication) -> Bool {
        left.user == right.user && left.type == right.type
    }
}
