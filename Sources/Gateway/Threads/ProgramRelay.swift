import WebSocket

/// What a session on another loop tells a long-lived program's service (`--threads`): the
/// service runs on the first loop, its sessions live on any. Values only: it crosses threads.
enum RemoteProgramEvent: Sendable {
    /// A session opened (`shared-json`: with the CGI environment its own loop made).
    case open(SharedEvent)
    /// A message from the client.
    case message(id: Int, Message)

    /// The bytes a message event carries, counted while it is on its way to the first loop.
    var size: Int {
        guard case .message(_, let message) = self else { return 0 }
        switch message {
        case .text(let text): return text.utf8.count
        case .binary(let bytes): return bytes.count
        }
    }
    /// The session ended.
    case closed(id: Int, code: UInt16)
}

/// What a long-lived program's service tells another loop's sessions of its route: one batch of
/// output is relayed once per loop and fanned out there, so a message is encoded once per loop.
enum RemoteProgramOutput: Sendable {
    /// A message for the listed sessions of the loop.
    case send(ids: [Int], opcode: Opcode, payload: [UInt8])
    /// A message for every session of the route on the loop but the listed ones (none: all).
    case others(except: [Int], opcode: Opcode, payload: [UInt8])
    /// Closes the listed sessions.
    case close(ids: [Int], code: UInt16, reason: String)
    /// The program's stdin is full (true) or drained: stop or resume reading the clients.
    case pause(Bool)
    /// The service took this many bytes of the loop's messages (`RemoteProgramService.inFlight`).
    case consumed(Int)
    /// The program exited (false: close every session with 1012, refuse upgrades with 503) or
    /// runs again (true).
    case up(Bool)
}
