/// How a program serves a route: one process per session (lines, binary, pty), or one long-lived
/// process for every session of the route (shared, shared-json, fanout).
public enum ProgramMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// One process per session; text messages are stdin lines, stdout lines are text messages.
    case lines
    /// One process per session; bytes pass through unchanged both ways.
    case binary
    /// One process per session on a pseudo-terminal, so it line-buffers its output; lines as in `lines`.
    case pty
    /// One process for the route; sessions multiplexed over its stdin and stdout with the shared line protocol.
    case shared
    /// The same as `shared`, one JSON object per line.
    case sharedJSON = "shared-json"
    /// One process for the route; each stdout line goes to every session, each client's message to stdin.
    case fanout

    /// The mode named `name` as written in `MODE:COMMAND`.
    public init?(name: String) {
        self.init(rawValue: name)
    }

    /// Whether a process is started for each session (rather than one for the route).
    public var isPerSession: Bool {
        switch self {
        case .lines, .binary, .pty: true
        case .shared, .sharedJSON, .fanout: false
        }
    }

    public var description: String { self.rawValue }

    /// Splits an optional `MODE:` off a handler: `shared:./hub --x` gives `.shared` and `./hub --x`.
    /// Text whose part before the first `:` names no mode is all command, so `./a:b` stays a program.
    public static func split(_ handler: String) -> (mode: ProgramMode?, command: String) {
        guard let colon = handler.firstIndex(of: ":"), let mode = ProgramMode(name: String(handler[..<colon])) else {
            return (nil, handler)
        }
        return (mode, String(handler[handler.index(after: colon)...]))
    }
}
