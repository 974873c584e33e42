import Client
import Reactor
import WebSocket

/// Where a client's received messages go: stdout, or a bridged program's stdin.
protocol MessageSink: AnyObject {
    /// Delivers one message; false when the sink is gone for good (the reader of stdout exited).
    func deliver(_ event: Connection.Event) -> Bool
    /// Whether delivered messages are backing up: the socket is left unread meanwhile.
    var isBacklogged: Bool { get }
}

/// The loop shared by `client` and `client --exec`: input items become messages, received
/// messages go to the sink, and the session ends in a closing handshake.
///
/// | phase     | input          | messages received | ends                                           |
/// |-----------|----------------|-------------------|------------------------------------------------|
/// | sending   | read and sent  | delivered         | at end of input: lingering (closing if 0)      |
/// | lingering | at its end     | delivered         | `linger` after end of input: our close, 1000   |
/// | closing   | no longer read | dropped           | the server's close frame; else at `--timeout`  |
///
/// In every phase the server's close frame ends the session, a TCP end without one is reported as
/// 1006, and SIGINT or SIGTERM sends a close frame with 1001 (going away) and moves to closing; a
/// second signal ends the client at once. The linger is one deadline, not a quiet period restarted
/// by each message: a server that never stops sending must not keep the client forever.
///
/// Every queue is bounded: input is not read while the socket has more than `sendHighWater` bytes
/// to write, and the socket is not read while the sink is backlogged (or its own queue is full).
struct ClientPump {
    /// Bytes queued for the socket above which input is left unread.
    static let sendHighWater = 1 << 20

    let client: BlockingClient
    let input: InputReader
    let sink: any MessageSink
    let binary: Bool
    let linger: Duration
    /// Called when the first SIGINT or SIGTERM arrives (the bridge passes it on to its program).
    var onSignal: (Signal) -> Void = { _ in }

    init(client: BlockingClient, input: InputReader, sink: any MessageSink, binary: Bool, linger: Duration) {
        self.client = client
        self.input = input
        self.sink = sink
        self.binary = binary
        self.linger = linger
    }

    /// How the session ended.
    enum Ending {
        /// The server's close frame arrived: its code, whether ours went first, and what ours said.
        case closed(code: CloseCode?, weClosedFirst: Bool, sent: CloseCode?)
        /// The connection ended without the server's close frame (1006).
        case dropped
        /// A signal came; the client sent 1001 and waited (bounded) for the answer.
        case interrupted(Signal)
        case failed

        /// 0 after a normal close (the server's 1000 or 1001, or its answer to our 1000 or 1001),
        /// 128 + N after signal N, 1 otherwise.
        var exitStatus: Int32 {
            switch self {
            case .closed(let code, let weClosedFirst, let sent): wsgate.exitStatus(forClose: weClosedFirst ? sent : code)
            case .interrupted(let signal): wsgate.exitStatus(for: signal)
            case .dropped, .failed: 1
            }
        }
    }

    private enum Phase {
        case sending
        case lingering(until: ContinuousClock.Instant)
        case closing(until: ContinuousClock.Instant)

        var deadline: ContinuousClock.Instant? {
            switch self {
            case .sending: nil
            case .lingering(let until), .closing(let until): until
            }
        }

        var isClosing: Bool {
            if case .closing = self { return true }
            return false
        }
    }

    /// Runs until the session ends, reporting how on stderr.
    mutating func run() -> Ending {
        let signals = SignalInbox(loop: self.client.eventLoop)
        var phase = Phase.sending
        var interruption: Signal?
        do {
            while true {
                if case .sending = phase, self.input.isPolledDirectly, !self.input.isPaused {
                    self.input.readOnce()
                    try self.client.poll(timeout: .zero)
                } else {
                    try self.client.poll(timeout: phase.deadline.map { $0 - .now } ?? .seconds(3600))
                }

                if let signal = signals.take() {
                    if let first = interruption {
                        printError("wsgate client: \(signal) again: not waiting for the server's close frame\n")
                        return .interrupted(first)
                    }
                    interruption = signal
                    self.onSignal(signal)
                    printError("\(signal): closing with 1001 (going away)\n")
                    if !phase.isClosing { phase = try self.startClosing(.goingAway) }
                }

                for event in self.client.takeEvents() {
                    switch event {
                    case .text, .binary:
                        // Nothing is delivered after our close frame: the session is over for us.
                        guard !phase.isClosing else { continue }
                        if !self.sink.deliver(event) {
                            phase = try self.startClosing(.normalClosure)  // `| head` has had enough
                        }
                    case .close(let code, let reason):
                        let status = code.map { "\($0)" } ?? "1005 (no status)"
                        printError("closed: \(status)\(reason.isEmpty ? "" : " \(reason)")\n")
                        // RFC 6455 §7.1.1: the server closes the TCP connection first; give it a moment.
                        try? self.client.waitForEOF(timeout: .seconds(2))
                        if let interruption { return .interrupted(interruption) }
                        return .closed(code: code, weClosedFirst: phase.isClosing,
                                       sent: self.client.connection.closeSent?.code)
                    case .ping, .pong:
                        break
                    }
                }
                self.client.isReadingPaused = self.sink.isBacklogged

                if case .sending = phase {
                    for item in self.input.take() where self.client.connection.state == .open {
                        if self.binary {
                            try self.client.enqueue(binary: item)
                        } else {
                            try self.client.enqueue(text: String(decoding: item, as: UTF8.self))
                        }
                    }
                    self.input.isPaused = self.client.queuedBytes > Self.sendHighWater
                    if self.input.isAtEnd {
                        phase = self.linger > .zero ? .lingering(until: .now + self.linger)
                            : try self.startClosing(.normalClosure)
                    }
                }
                if case .lingering(let until) = phase, ContinuousClock.now >= until {
                    phase = try self.startClosing(.normalClosure)
                }
                if !phase.isClosing && self.client.connection.state != .open {
                    // The connection failed on something the server sent, and said so in a close frame.
                    phase = .closing(until: .now + self.client.options.timeout)
                }
                if case .closing(let until) = phase, ContinuousClock.now >= until {
                    printError("wsgate client: no close frame from the server within \(self.client.options.timeout): "
                               + "\(droppedConnectionMessage)\n")
                    return interruption.map { .interrupted($0) } ?? .dropped
                }
                if self.client.isDisconnected {
                    printError("\(droppedConnectionMessage)\n")
                    return interruption.map { .interrupted($0) } ?? .dropped
                }
            }
        } catch {
            printError("wsgate client: \(error)\n")
            return interruption.map { .interrupted($0) } ?? .failed
        }
    }

    /// Sends our close frame (after whatever input is still queued) and stops reading input.
    private func startClosing(_ code: CloseCode) throws(BlockingClient.Failure) -> Phase {
        if self.client.connection.state == .open {
            try self.client.enqueueClose(code: code)
        }
        self.input.isPaused = true
        return .closing(until: .now + self.client.options.timeout)
    }
}

/// SIGINT and SIGTERM, read on the client's loop (a signalfd), kept until the pump takes them.
private final class SignalInbox {
    private var received: [Signal] = []

    init(loop: EventLoop) {
        for signal in [Signal.interrupt, .terminate] {
            try? loop.onSignal(signal) { [weak self, unowned loop] in
                self?.received.append(signal)
                loop.stop()
            }
        }
    }

    func take() -> Signal? {
        self.received.isEmpty ? nil : self.received.removeFirst()
    }
}
