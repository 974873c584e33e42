import Reactor
import WebSocket

/// One client connection, from accept to close: the HTTP request, then the WebSocket session.
///
/// Bound to the gateway's loop thread. The reading order follows python-websockets' sans-I/O guide:
/// read, `receive`, queue `takePendingOutput()`, handle events, arm a close timer when a close is expected.
public final class Session {
    /// Where the session is. Cases carry only what is valid in that state.
    enum Phase {
        /// Reading the HTTP request head. Boxed too: the parser held inline made every session,
        /// idle ones included, 32 bytes larger for a phase that lasts one read.
        indirect case handshaking(HTTPHeadParser)
        /// The request passed; its handler (a program) is being started off the loop thread.
        indirect case preparing(Preparation)  // boxed: held inline, it would make every session larger
        /// A plain request's head is read; its body (`Content-Length` bytes) is being read.
        indirect case readingBody(PendingBody)  // boxed, as preparing: idle sessions stay small
        /// A plain request is being answered by a responder (static files, CGI); the socket is read
        /// only into `pendingInput` (pipelined requests), up to a bound.
        case responding(HTTPExchange)
        /// A last response is queued (a refusal, or the last of a connection that is not kept
        /// alive): write it, half-close, drain until the client closes.
        case rejecting
        case open(Connection)
        case closed
    }

    /// A plain request whose body is still arriving.
    struct PendingBody {
        let head: HTTPHead
        var body: [UInt8]
        let length: Int
    }

    /// What a handshake waiting for its handler keeps until the handler is ready.
    struct Preparation {
        let route: ServedRoute
        let accepted: ServerHandshake.Accepted
        /// Bytes that came after the request (frames sent with it).
        var rest: [UInt8]
    }

    /// A number unique within this gateway's run, for logs and handlers.
    public let id: Int
    public let remoteAddress: SocketAddress
    /// The request's path, without the query.
    public internal(set) var path = ""
    /// The request's query string, without "?".
    public internal(set) var query = ""
    /// The client's address as a trusted proxy reported it (`--trust-proxy`); nil: the peer is the client.
    public internal(set) var clientAddress: String?
    /// The upgrade request, once it has been read.
    public internal(set) var request: HTTPHead?
    /// The subprotocol agreed in the handshake.
    public internal(set) var subprotocol: String?
    /// permessage-deflate as agreed in the handshake, nil when it was not.
    public internal(set) var deflate: PerMessageDeflate?
    /// Who the route's auth policy let in (REMOTE_USER, AUTH_TYPE); nil on a route without one.
    public internal(set) var authentication: Authentication?

    /// Unchecked: the server owns its sessions and ends them all before it goes (a checked `unowned`
    /// costs an atomic operation at each of the several uses per message).
    unowned(unsafe) let server: GatewayServer
    // What every message touches is `@exclusivity(unchecked)`: a session lives on the loop thread and
    // holds no access to these across a call that could come back to it, so the runtime's dynamic
    // checks would find nothing, at a cost of hundreds of instructions per message.
    /// The socket, or TLS over it: everything the session reads and writes goes through it.
    let transport: any Transport
    @exclusivity(unchecked) var registration: Registration?
    @exclusivity(unchecked) var phase: Phase
    @exclusivity(unchecked) var handler: (any SessionHandler)?
    var handlerName = "-"
    var log: Log
    /// The gateway's defaults until the request is routed, then the route's, kept to the end:
    /// shared with the route's other sessions (see `SharedRouteSettings`).
    @exclusivity(unchecked) var sharedSettings: SharedRouteSettings
    var settings: RouteSettings { self.sharedSettings.value }
    @exclusivity(unchecked) var queue = OutboundQueue()
    /// The send queue is over its bound: the client is not read until it drains.
    @exclusivity(unchecked) var readingPaused = false
    /// The handler cannot take more input yet (a program's stdin is full).
    @exclusivity(unchecked) var readingPausedByHandler = false
    /// The connection wants the TCP stream ended once the queue is written.
    @exclusivity(unchecked) var endOfStreamRequested = false
    @exclusivity(unchecked) var writeShutDown = false
    @exclusivity(unchecked) var isQueuedForFlush = false
    /// Inside `handle`, which flushes when it is done: output queued meanwhile needs no extra flush.
    @exclusivity(unchecked) var isHandlingReadiness = false

    /// Bytes read after a plain request, the start of the next (pipelining): parsed once the
    /// current response has been written.
    @exclusivity(unchecked) var pendingInput: [UInt8] = []
    /// The client ended its half of the stream: the current response is its last.
    @exclusivity(unchecked) var inputEnded = false
    /// Kept alive after a plain response: waiting for the next request under the idle timeout.
    @exclusivity(unchecked) var awaitingNextRequest = false

    @exclusivity(unchecked) var handshakeTimer: TimerID?
    @exclusivity(unchecked) var keepaliveTimer: TimerID?
    @exclusivity(unchecked) var idleTimer: TimerID?
    @exclusivity(unchecked) var closeTimer: TimerID?
    let openedAt: ContinuousClock.Instant
    /// When the client was last read from and last sent a message, stamped per read and per message
    /// as the loop's plain nanoseconds (`EventLoop.nowInNanoseconds`), cheaper than an `Instant`.
    @exclusivity(unchecked) var lastReceivedNanoseconds: Int64
    @exclusivity(unchecked) var lastMessageNanoseconds: Int64
    var lastReceivedAt: ContinuousClock.Instant { self.server.loop.instant(fromNanoseconds: self.lastReceivedNanoseconds) }
    var lastMessageAt: ContinuousClock.Instant { self.server.loop.instant(fromNanoseconds: self.lastMessageNanoseconds) }
    @exclusivity(unchecked) var pingSentAt: ContinuousClock.Instant?
    @exclusivity(unchecked) var bytesIn = 0
    @exclusivity(unchecked) var bytesOut = 0
    @exclusivity(unchecked) var messagesIn = 0
    @exclusivity(unchecked) var messagesOut = 0
    /// The route's counters while the session is open and metrics are on; its own counts above are
    /// folded into them when it ends (see `RouteMetrics`).
    @exclusivity(unchecked) var routeMetrics: RouteMetrics?

    init(id: Int, transport: any Transport, remoteAddress: SocketAddress, server: GatewayServer, phase: Phase) {
        self.id = id
        self.transport = transport
        self.remoteAddress = remoteAddress
        self.server = server
        self.phase = phase
        self.log = server.configuration.log.with("id", id).with("remote", remoteAddress)
        self.sharedSettings = server.sharedDefaultSettings
        self.openedAt = server.loop.now
        self.lastReceivedNanoseconds = server.loop.nowInNanoseconds
        self.lastMessageNanoseconds = server.loop.nowInNanoseconds
    }

    var connection: Connection? {
        if case .open(let connection) = self.phase { return connection }
        return nil
    }

    /// Whether messages can still be sent: the handshake is done and no close frame was sent.
    public var isOpen: Bool { self.connection?.canSendData ?? false }

    // MARK: Sending, for handlers

    /// Queues a text message. Returns false, and drops it, once the session is closing.
    @discardableResult
    public func send(text: String) -> Bool {
        guard let connection = self.connection, connection.canSendData else { return false }
        try? connection.send(text: text)
        self.messagesOut += 1
        self.outputChanged()
        return true
    }

    /// Queues a binary message. Returns false, and drops it, once the session is closing.
    @discardableResult
    public func send(binary: [UInt8]) -> Bool {
        guard let connection = self.connection, connection.canSendData else { return false }
        if !self.queueBehindHeader(binary, count: binary.count, .binary, connection) {
            try? connection.send(binary: binary)
        }
        self.messagesOut += 1
        self.outputChanged()
        return true
    }

    /// A large whole message queued as its header and then `payload` as it is, not copied into a
    /// frame; false, having queued nothing, for a small one or when the connection cannot send it
    /// that way (`Connection.frameHeader(forUnqueued:count:)`).
    private func queueBehindHeader(_ payload: @autoclosure () -> [UInt8], count: Int, _ opcode: Opcode,
                                   _ connection: Connection) -> Bool {
        guard count >= OutboundQueue.separatePayloadSize, connection.state == .open else { return false }
        self.pullOutput(connection)
        guard let header = try? connection.frameHeader(forUnqueued: opcode, count: count) else { return false }
        self.queue.append(header: header, payload: payload())
        return true
    }

    /// Queues a binary message from bytes the caller lends: copied once, into the frame, or when
    /// large into an array queued behind its header (several large frames appended to the
    /// connection's one buffer would be copied again each time it grows).
    @discardableResult
    func send(binaryBytes bytes: UnsafeRawBufferPointer) -> Bool {
        self.send(lent: bytes, .binary)
    }

    /// Queues a text message whose bytes the caller vouches are UTF-8 (lent, as `send(binaryBytes:)`).
    @discardableResult
    func send(textUTF8 bytes: UnsafeRawBufferPointer) -> Bool {
        self.send(lent: bytes, .text)
    }

    private func send(lent bytes: UnsafeRawBufferPointer, _ opcode: Opcode) -> Bool {
        guard let connection = self.connection, connection.canSendData else { return false }
        if !self.queueBehindHeader(Array(bytes), count: bytes.count, opcode, connection) {
            if opcode == .text {
                try? connection.send(textUTF8: bytes)
            } else {
                try? connection.send(binaryBytes: bytes)
            }
        }
        self.messagesOut += 1
        self.outputChanged()
        return true
    }

    /// Bytes waiting to be written to this client, including what the connection has not handed over yet.
    var queuedBytes: Int {
        if let connection = self.connection { self.pullOutput(connection) }
        return self.queue.count
    }

    /// Stops or resumes reading from the client on behalf of the handler (backpressure from a program).
    func pauseReadingForHandler(_ paused: Bool) {
        guard self.readingPausedByHandler != paused else { return }
        self.readingPausedByHandler = paused
        self.log.debug(paused ? "session.read_paused" : "session.read_resumed", [("cause", "handler")])
        if !paused, case .open = self.phase { self.server.loop.runSoon { [self] in self.handle(.readable) } }
        self.updateInterest()
    }

    /// Sends the reply to the client's close that the handler held back (`sessionDidReceiveClose`).
    public func finishClosing() {
        guard let connection = self.connection else { return }
        connection.releaseCloseReply()
        self.outputChanged()
    }

    /// Starts the closing handshake; the session ends when the client answers or the close timeout passes.
    ///
    /// A code that may not be sent (`CloseCode.isAllowedOnWire`: 1005, 1006 and 1015 stand for what
    /// happened to a connection, RFC 6455 §7.4.1; 1004, the unassigned codes below 3000 and those
    /// from 5000 up are not for sending) is a handler's mistake and costs only its own session, not
    /// the server: 1005, "no status", sends a close frame without a code (and so without the reason),
    /// which the client reports as 1005; any other closes with 1011 and the reason. Both are logged
    /// as `session.unsendable_close_code`.
    public func close(code: CloseCode = .normalClosure, reason: String = "") {
        guard let connection = self.connection, connection.state == .open else { return }
        var sent: CloseCode? = code
        if !code.isSendable {
            sent = code == .noStatusReceived ? nil : .internalError
            self.log.error("session.unsendable_close_code",
                           [("code", code.rawValue), ("sent", sent.map { String($0.rawValue) } ?? "none")])
        }
        try? connection.close(code: sent, reason: reason)
        self.outputChanged()
    }

    /// Queues a frame already encoded for a server (unmasked, no extension): broadcast encodes once
    /// for every member. With `dropIfBehind`, a client more than `maxQueuedBytes` behind is closed
    /// with 1008 instead.
    func sendEncodedFrame(_ frame: [UInt8], dropIfBehind: Bool) {
        guard let connection = self.connection, connection.canSendData else { return }
        self.pullOutput(connection)  // keep order with anything the connection queued itself
        if dropIfBehind && self.queue.count + frame.count > self.settings.maxQueuedBytes {
            self.dropAsSlowConsumer(connection)
        } else {
            self.queue.append(frame)
            self.messagesOut += 1
        }
        self.outputChanged()
    }

    private func dropAsSlowConsumer(_ connection: Connection) {
        self.log.info("session.slow_consumer", [("queued_bytes", self.queue.count)])
        self.routeMetrics?.slowConsumerCloses += 1
        self.queue.dropUnstarted()
        connection.fail(code: .policyViolation,
                        reason: "slow consumer: more than \(self.settings.maxQueuedBytes) bytes queued")
    }

    /// Queues a message meant for many sessions: the frame the message caches for this session's
    /// compression when there is one (no context takeover, or none at all), else compressed by this
    /// session's own context. `dropIfBehind` as for `sendEncodedFrame`.
    func send(_ message: FanoutMessage, dropIfBehind: Bool) {
        if let frame = message.frame(for: self.deflate) {
            self.sendEncodedFrame(frame, dropIfBehind: dropIfBehind)
            return
        }
        guard let connection = self.connection, connection.canSendData else { return }
        self.pullOutput(connection)
        if dropIfBehind && self.queue.count + message.payload.count > self.settings.maxQueuedBytes {
            self.dropAsSlowConsumer(connection)
        } else {
            message.payload.withUnsafeBytes { bytes in
                if message.opcode == .text {
                    try? connection.send(textUTF8: bytes)
                } else {
                    try? connection.send(binary: bytes)
                }
            }
            self.messagesOut += 1
        }
        self.outputChanged()
    }

    /// Something was queued from outside this session's own event handling: flush after this batch.
    func outputChanged() {
        guard !self.isQueuedForFlush && !self.isHandlingReadiness else { return }
        self.isQueuedForFlush = true
        self.server.scheduleFlush(self)
    }
}

@available(*, unavailable)
extension Session: Sendable {}
