import WebSocket

/// What wsgate tells a shared program about one session of its route.
enum SharedEvent: Equatable, Sendable {
    /// A session opened: its id, request target, concrete path, peer, and the CGI environment a
    /// per-session program would get (only `shared-json` carries the environment).
    case open(id: Int, requestURI: String, path: String, remote: String, environment: [String: String])
    /// A message from the session's client.
    case message(id: Int, Message)
    /// The session ended: the close code received, or 1006 when the client vanished. Nothing about
    /// this id follows.
    case close(id: Int, code: UInt16)
}

/// What a shared program asks of wsgate.
enum SharedCommand: Equatable {
    /// A message to each listed session.
    case send(to: [Int], Message)
    /// A message to every open session of the route.
    case all(Message)
    /// A message to every open session of the route but the listed ones.
    case others(except: [Int], Message)
    /// Closes each listed session with a code and a reason.
    case close(ids: [Int], code: CloseCode, reason: String)
}

/// The encodings of the shared protocol, sans-I/O: events to bytes, a line of output to a command.
enum SharedEncoding: Sendable {
    /// `shared`: space-separated words, text escaped so that a message is one line.
    case lines
    /// `shared-json`: one JSON object per line.
    case json

    /// Appends `event` as one line, `\n` included.
    func encode(_ event: SharedEvent, into output: inout [UInt8]) {
        switch self {
        case .lines: SharedLineProtocol.encode(event, into: &output)
        case .json: SharedJSONProtocol.encode(event, into: &output)
        }
    }

    /// The command on one line of the program's output (without its `\n`).
    func parse(_ line: UnsafeRawBufferPointer) throws(SharedProtocolError) -> SharedCommand {
        switch self {
        case .lines: try SharedLineProtocol.parse(line)
        case .json: try SharedJSONProtocol.parse(line)
        }
    }
}

/// Why a line of a shared program's output is not a command; the line is logged and skipped.
struct SharedProtocolError: Error, Equatable, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    /// A close code a program may ask for: any wsgate may send (1000–1003, 1007–1014, 3000–4999).
    static func checkedCloseCode(_ value: Int) throws(SharedProtocolError) -> CloseCode {
        guard let raw = UInt16(exactly: value), CloseCode(raw).isSendable else {
            throw SharedProtocolError("close code \(value) may not be sent")
        }
        return CloseCode(raw)
    }
}
