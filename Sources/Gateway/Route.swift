import WebSocket

/// A URL path and what serves it.
public struct Route {
    /// An exact path ("/echo"), or a prefix ending in "/*" ("/chat/*") that matches every path below it.
    public var pattern: String
    public var handler: RouteHandler
    /// permessage-deflate (RFC 7692) for this route's sessions; nil declines it. Read at each
    /// handshake and kept by the session, so a session keeps what it agreed.
    public var compression: PerMessageDeflate.Configuration?
    /// The route's own settings (a configuration file's per-route options); nil: the gateway's
    /// configuration. `compression` above is the route's in either case.
    public var settings: RouteSettings?
    /// Who may open this route's sessions; nil: the server's `Configuration.auth`.
    public var auth: AuthPolicy?

    public init(_ pattern: String, _ handler: RouteHandler, compression: PerMessageDeflate.Configuration? = nil,
                settings: RouteSettings? = nil, auth: AuthPolicy? = nil) {
        self.pattern = pattern
        self.handler = handler
        self.compression = compression
        self.settings = settings
        self.auth = auth
    }

    /// Whether this route serves `path` (the query string is not part of the match).
    public func matches(_ path: String) -> Bool {
        if self.pattern.hasSuffix("/*") {
            let prefix = self.pattern.dropLast(1)  // keeps the "/"
            return path.hasPrefix(prefix) && path.count > prefix.count
        }
        return path == self.pattern
    }

    /// Whether the pattern is an exact path, which wins over any prefix.
    var isExact: Bool { !self.pattern.hasSuffix("/*") }

    /// CGI's SCRIPT_NAME and PATH_INFO for `path`: the route's fixed part, and what follows it.
    /// A catch-all route ("/" with "/*", websocketd's `wsgate COMMAND` form) gives "/" and the
    /// whole path, as websocketd does.
    func scriptNameAndPathInfo(for path: String) -> (String, String) {
        if self.isExact { return (path, "") }
        let prefix = String(self.pattern.dropLast(2))
        if prefix.isEmpty { return ("/", path) }
        return (prefix, String(path.dropFirst(prefix.count)))
    }
}

/// What serves a route's sessions.
public enum RouteHandler {
    /// Sends every message back, byte for byte.
    case echo
    /// Sends every message to every other session on the same concrete path.
    case broadcast
    /// An in-process handler written by the embedder: one instance per session.
    case custom(name: String, (Session) -> any SessionHandler)
    /// A program: started for each session (`lines`, `binary`, `pty`), or one long-lived process
    /// for every session of the route (`shared`, `shared-json`, `fanout`).
    case program(ProgramCommand, mode: ProgramMode)
    /// Each executable file below a directory, served at its path (websocketd's `--dir`), in a
    /// per-session mode.
    case directory(String, mode: ProgramMode)

    public var name: String {
        switch self {
        case .echo: "echo"
        case .broadcast: "broadcast"
        case .custom(let name, _): name
        case .program(let command, let mode): mode == .lines ? command.executable : "\(mode):\(command.executable)"
        case .directory(let path, _): "dir:\(path)"
        }
    }
}
