import Client
import WebSocket

/// The loop shared by `client` and `client --exec`: input items become messages, received
/// messages go to `deliver`; at end of input the client lingers, then closes normally.
struct ClientPump {
    let client: BlockingClient
    let input: InputReader
    let binary: Bool
    var linger: Linger

    /// How the session ended.
    enum Ending {
        /// The server's close frame: its code, and whether ours went first.
        case closed(code: CloseCode?, weClosedFirst: Bool)
        /// The connection ended without a close frame.
        case dropped
        case failed

        /// 0 after a normal close (1000, 1001, or ours answered), 1 otherwise.
        var exitStatus: Int32 {
            switch self {
            case .closed(let code, let weClosedFirst): weClosedFirst ? 0 : wsgate.exitStatus(forClose: code?.rawValue ?? 1005)
            case .dropped, .failed: 1
            }
        }
    }

    /// Runs until the session ends, reporting the close on stderr.
    mutating func run(deliver: (Connection.Event) -> Void) -> Ending {
        var closing = false
        do {
            while true {
                if self.input.isPolledDirectly && !closing {
                    self.input.readOnce()
                } else {
                    try self.client.poll(timeout: self.linger.timeout ?? .seconds(3600))
                }
                for event in self.client.takeEvents() {
                    switch event {
                    case .text, .binary:
                        self.linger.messageArrived()
                        deliver(event)
                    case .close(let code, let reason):
                        let status = code.map { "\($0)" } ?? "1005 (no status)"
                        printError("closed: \(status)\(reason.isEmpty ? "" : " \(reason)")\n")
                        try? self.client.waitForEOF(timeout: .seconds(2))
                        return .closed(code: code, weClosedFirst: closing)
                    case .ping, .pong:
                        break
                    }
                }
                for item in self.input.take() where !closing {
                    if self.binary {
                        try self.client.send(binary: item)
                    } else {
                        try self.client.send(text: String(decoding: item, as: UTF8.self))
                    }
                    self.linger.messageSent()
                }
                if self.input.isAtEnd && !closing && self.linger.isOver {
                    closing = true
                    try self.client.close()
                }
                if self.client.isDisconnected {
                    printError("connection closed without a close frame\n")
                    return .dropped
                }
            }
        } catch {
            printError("wsgate client: \(error)\n")
            return .failed
        }
    }
}
