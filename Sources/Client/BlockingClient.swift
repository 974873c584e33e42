import Reactor
import TLS
import WebSocket

/// A WebSocket client with a synchronous API: each call waits, within a timeout, on a private epoll loop.
///
/// For tests, scripts and the `wsgate client` and `send` commands: one connection, one thread. Not
/// for many connections at once (that is `wsgate bench`'s own loop).
///
/// Memory is bounded whatever the server does: received events wait in a queue of about 1 MiB, and
/// while it is full the socket is not read (see `isReadingPaused`). Every wait has a bound, and a
/// bound given to one call covers that whole call, however many messages arrive meanwhile.
public final class BlockingClient {
    public struct Options {
        public var origin: String?
        public var subprotocols: [String] = []
        public var headers: [(name: String, value: String)] = []
        /// Bound on connecting, the handshake, the closing handshake, and every wait without its own timeout.
        public var timeout: Duration = .seconds(5)
        public var maxMessageSize = 64 << 20
        /// Answer pings automatically (turn off to test a server's keepalive).
        public var autoPong = true
        /// For `wss://`: how to verify the server, and a client certificate. nil: the system's CA
        /// store, no client certificate.
        public var tls: TLSContext?
        /// Offer permessage-deflate (RFC 7692) with these settings; nil offers nothing.
        public var compression: PerMessageDeflate.Configuration?

        public init() {}
    }

    /// The server's answer to the upgrade request: its head, and for a refusal the start of its body.
    public struct Response: Sendable {
        public var head: HTTPHead
        /// Up to `maxBodyKept` bytes of the body; empty after a 101.
        public var body: [UInt8]

        /// How much of a refusal's body is kept.
        public static let maxBodyKept = 4096

        public var startLine: HTTPHead.StartLine { self.head.startLine }

        /// The body as one printable line: control characters and runs of white space become one
        /// space, and it is cut at 300 characters.
        public var bodySummary: String {
            var summary = ""
            var count = 0
            for character in String(decoding: self.body, as: UTF8.self) {
                let blank = character.isWhitespace || character.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
                if blank {
                    if !summary.isEmpty && summary.last != " " { summary.append(" ") }
                    continue
                }
                if count == 300 {
                    summary.append("…")
                    break
                }
                summary.append(character)
                count += 1
            }
            while summary.last == " " { summary.removeLast() }
            return summary
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case url(String)
        case unsupported(String)
        case resolve(String)
        case connect(SystemError)
        case io(SystemError)
        /// The TLS handshake or a record failed: a certificate that did not verify, an alert.
        case tls(String)
        case malformedResponse(String)
        /// The server answered the upgrade, but not as RFC 6455 asks: another status than 101
        /// (a refusal, with its body), or a 101 that fails validation.
        case handshake(ClientHandshakeError, Response)
        case timeout(String)
        case closed

        init(_ error: TransportError) {
            switch error {
            case .system(let error): self = .io(error)
            case .refused(let reason): self = .tls(reason)
            }
        }

        public var description: String {
            switch self {
            case .url(let text): "bad URL: \(text)"
            case .unsupported(let text): text
            case .resolve(let text): "cannot resolve host: \(text)"
            case .connect(let error): "cannot connect: \(error)"
            case .io(let error): "connection failed: \(error)"
            case .tls(let reason): "TLS failed: \(reason)"
            case .malformedResponse(let text): "malformed handshake response: \(text)"
            case .handshake(.unexpectedStatus(let status, let reason), let response):
                Self.refusal(status: status, reason: reason, response: response)
            case .handshake(let error, _): "handshake failed: \(error)"
            case .timeout(let what): "timed out \(what)"
            case .closed: "connection closed"
            }
        }

        /// "handshake refused: 502 Bad Gateway: cannot start program …", the server's own words last.
        private static func refusal(status: Int, reason: String, response: Response) -> String {
            var text = status >= 400 ? "handshake refused: \(status) \(reason)"
                : "handshake failed: \(ClientHandshakeError.unexpectedStatus(status, reason))"
            if (300..<400).contains(status), let location = response.head["Location"] {
                text += " (Location: \(location))"
            }
            let body = response.bodySummary
            return body.isEmpty ? text : text + ": " + body
        }
    }

    public let url: WebSocketURL
    /// The server's handshake response.
    public internal(set) var response = HTTPHead(startLine: .response(version: "HTTP/1.1", status: 0, reason: ""))
    public internal(set) var subprotocol: String?
    /// permessage-deflate as the server agreed it, nil when it did not.
    public internal(set) var deflate: PerMessageDeflate?
    /// Replaced once, after the handshake, when an extension was agreed.
    public internal(set) var connection: Connection
    public let options: Options
    let loop: EventLoop
    let io: ClientIO

    public init(url text: String, options: Options = .init()) throws(Failure) {
        do {
            self.url = try WebSocketURL(text)
        } catch {
            throw .url(error.description)
        }
        var tlsContext: TLSContext?
        if self.url.secure {
            if let context = options.tls {
                tlsContext = context
            } else {
                do throws(TLSError) { tlsContext = try TLSContext.client() } catch { throw .tls(error.description) }
            }
        }
        self.options = options
        self.connection = Connection(
            side: .client, configuration: .init(maxMessageSize: options.maxMessageSize, autoPong: options.autoPong))
        let addresses: [SocketAddress]
        do {
            addresses = try SocketAddress.resolve(host: self.url.host, port: self.url.port)
        } catch {
            throw .resolve("\(error)")
        }
        guard let address = addresses.first else { throw .resolve("\(self.url.host): no address") }
        do {
            self.loop = try EventLoop()
            try EventLoop.ignoreSIGPIPE()
        } catch {
            throw .io(error)
        }
        let socket: Socket
        let connected: Bool
        do {
            (socket, connected) = try Socket.connect(to: address)
        } catch {
            self.loop.close()
            throw .connect(error)
        }
        self.io = ClientIO(socket: socket, loop: self.loop)
        do {
            self.io.connecting = !connected
            self.io.registration = try self.loop.register(socket.fd, interest: connected ? .readable : .writable,
                                                          handler: self.io)
            if !connected {
                try self.wait("connecting to \(address)", deadline: self.deadline()) { !self.io.connecting }
                if let error = self.io.connectError { throw Failure.connect(error) }
            }
            try? socket.setNoDelay(true)
            if let tlsContext {
                // SNI and the certificate's name come from the URL's host (RFC 6066 §3, RFC 6125).
                let tls = try TLSConnection(context: tlsContext, serverName: self.url.host)
                self.io.transport = TLSTransport(socket: socket, connection: tls, buffers: TLSTransport.Buffers(size: 16 * 1024))
            }
            try self.handshake()
        } catch let failure as Failure {
            self.disconnect()
            throw failure
        } catch let failure as TLSError {
            self.disconnect()
            throw .tls(failure.description)
        } catch {
            self.disconnect()
            throw .io(error as! SystemError)
        }
    }

    deinit {
        self.disconnect()
    }

    func deadline(_ timeout: Duration? = nil) -> ContinuousClock.Instant {
        .now + (timeout ?? self.options.timeout)
    }

    // MARK: Sending

    /// Sends a text message, waiting (within the options' timeout) until the socket took it.
    public func send(text: String) throws(Failure) {
        try self.perform(waiting: true) { () throws(ConnectionStateError) in try self.connection.send(text: text) }
    }

    /// Sends a binary message, waiting (within the options' timeout) until the socket took it.
    public func send(binary: [UInt8]) throws(Failure) {
        try self.perform(waiting: true) { () throws(ConnectionStateError) in try self.connection.send(binary: binary) }
    }

    /// Queues a text message without waiting: what the socket does not take now is written during
    /// later `poll` calls. Watch `queuedBytes` to bound the queue.
    public func enqueue(text: String) throws(Failure) {
        try self.perform(waiting: false) { () throws(ConnectionStateError) in try self.connection.send(text: text) }
    }

    /// Queues a binary message without waiting; see `enqueue(text:)`.
    public func enqueue(binary: [UInt8]) throws(Failure) {
        try self.perform(waiting: false) { () throws(ConnectionStateError) in try self.connection.send(binary: binary) }
    }

    /// Bytes queued for the socket and not yet written.
    public var queuedBytes: Int { self.io.pending.count }

    /// Sends one fragment of a message: `opcode` .text or .binary first, then .continuation.
    public func sendFragment(_ opcode: Opcode, _ payload: [UInt8], fin: Bool) throws(Failure) {
        try self.perform(waiting: true) { () throws(ConnectionStateError) in
            switch opcode {
            case .text:
                let sent = payload.withUnsafeBytes { bytes in
                    Result { () throws(ConnectionStateError) in try self.connection.send(textUTF8: bytes, fin: fin) }
                }
                try sent.get()
            case .continuation: try self.connection.send(continuation: payload, fin: fin)
            default: try self.connection.send(binary: payload, fin: fin)
            }
        }
    }

    public func sendPing(_ payload: [UInt8] = []) throws(Failure) {
        try self.perform(waiting: true) { () throws(ConnectionStateError) in try self.connection.sendPing(payload) }
    }

    /// Starts the closing handshake; read events until `.close` arrives to finish it.
    public func close(code: CloseCode = .normalClosure, reason: String = "") throws(Failure) {
        try self.perform(waiting: true) { () throws(ConnectionStateError) in
            try self.connection.close(code: code, reason: reason)
        }
    }

    /// Starts the closing handshake without waiting for the socket to take the close frame (it goes
    /// after whatever `enqueue` queued); see `enqueue(text:)`.
    public func enqueueClose(code: CloseCode = .normalClosure, reason: String = "") throws(Failure) {
        try self.perform(waiting: false) { () throws(ConnectionStateError) in
            try self.connection.close(code: code, reason: reason)
        }
    }

    /// Writes bytes as they are, bypassing the protocol: for testing how a server handles bad frames.
    public func sendRaw(_ bytes: [UInt8]) throws(Failure) {
        try self.write(bytes, waiting: true)
    }

    private func perform(waiting: Bool, _ body: () throws(ConnectionStateError) -> Void) throws(Failure) {
        do {
            try body()
        } catch {
            throw .closed
        }
        try self.flushConnection(waiting: waiting)
    }

    func flushConnection(waiting: Bool) throws(Failure) {
        for output in self.connection.takeOutput() {
            switch output {
            case .bytes(let bytes): try self.write(bytes, waiting: waiting)
            case .endOfStream: self.io.shutdownWrite()
            }
        }
    }

    func write(_ bytes: [UInt8], waiting: Bool) throws(Failure) {
        self.io.pending.append(contentsOf: bytes)
        try self.io.flush()
        if waiting && !self.io.pending.isEmpty {
            try self.wait("writing", deadline: self.deadline()) { self.io.pending.isEmpty || self.io.writeError != nil }
        }
        if let error = self.io.writeError { throw .init(error) }
    }

    // MARK: Receiving

    /// The next event (message, ping, pong, close), or nil once the server closed the TCP connection.
    /// - Throws: `.timeout` when nothing arrives within `timeout` (the options' timeout by default).
    public func nextEvent(timeout: Duration? = nil) throws(Failure) -> Connection.Event? {
        let deadline = self.deadline(timeout)
        while true {
            if let event = self.io.popEvent() {
                return event
            }
            if self.io.eof { return nil }
            // What the connection owes (the echo of a close that came in the same read as earlier
            // events, a pong) goes out before waiting: the server may be waiting for it.
            try self.flushConnection(waiting: true)
            try self.wait("waiting for a message", deadline: deadline) { !self.io.events.isEmpty || self.io.eof }
            try self.flushConnection(waiting: true)  // pongs, the echo of a close
        }
    }

    /// The next text or binary message, skipping pings and pongs.
    /// - Throws: `.closed` when a close frame or EOF comes first.
    public func receiveMessage(timeout: Duration? = nil) throws(Failure) -> Connection.Event {
        while let event = try self.nextEvent(timeout: timeout) {
            switch event {
            case .text, .binary: return event
            case .close: throw .closed
            case .ping, .pong: continue
            }
        }
        throw .closed
    }

    /// Reads until the server's close frame, skipping messages; returns its code and reason, or nil
    /// when the connection ended without one.
    /// - Parameter timeout: the bound on the whole wait (the options' timeout by default), however
    ///   many messages are skipped meanwhile.
    public func waitForClose(timeout: Duration? = nil) throws(Failure) -> (code: CloseCode?, reason: String)? {
        let deadline = self.deadline(timeout)
        while let event = try self.nextEvent(timeout: deadline - .now) {
            if case .close(let code, let reason) = event { return (code, reason) }
            // A server that never stops sending always has an event ready: check the bound here too.
            if ContinuousClock.now >= deadline { throw .timeout("waiting for the close frame") }
        }
        return nil
    }

    /// Waits until the server closes the TCP connection, skipping what arrives meanwhile.
    /// - Parameter timeout: the bound on the whole wait (the options' timeout by default).
    public func waitForEOF(timeout: Duration? = nil) throws(Failure) {
        let deadline = self.deadline(timeout)
        while try self.nextEvent(timeout: deadline - .now) != nil {
            if ContinuousClock.now >= deadline { throw .timeout("waiting for the server to close the connection") }
        }
    }

    /// The client's loop, for watching other descriptors (stdin, a child's pipes) alongside the socket.
    ///
    /// Handlers registered here must not call this client's blocking methods: they run inside
    /// `poll`. Let them record what happened and call `eventLoop.stop()`; act after `poll` returns.
    public var eventLoop: EventLoop { self.loop }

    /// Runs the loop until anything happens (socket or other registered descriptor) or `timeout`
    /// passes, then queues what the connection produced (pongs, a close echo) without waiting.
    public func poll(timeout: Duration) throws(Failure) {
        // Events that came with the handshake response, or in an earlier read, are already here.
        guard self.io.events.isEmpty && !self.io.eof else {
            try self.flushConnection(waiting: false)
            return
        }
        let timer = self.loop.schedule(after: max(timeout, .zero)) { [loop = self.loop] in loop.stop() }
        defer { self.loop.cancel(timer) }
        do {
            try self.loop.run()
        } catch {
            throw .io(error)
        }
        if let error = self.io.readError { throw .init(error) }
        try self.flushConnection(waiting: false)
    }

    /// Events received and not yet taken, oldest first.
    public func takeEvents() -> [Connection.Event] {
        self.io.takeEvents()
    }

    /// Whether the socket is left unread, so that TCP flow control slows the server: set it while
    /// what the messages are delivered to (a program's stdin, say) is backed up. Events already
    /// received are still returned. A wait for a message while paused waits out its timeout.
    public var isReadingPaused: Bool {
        get { self.io.pausedByCaller }
        set { self.io.pausedByCaller = newValue }
    }

    /// Whether the server has closed the TCP connection.
    public var isDisconnected: Bool { self.io.eof }

    /// Closes the socket at once, without a closing handshake.
    public func disconnect() {
        self.io.close()
        self.loop.close()
    }

    func wait(_ what: String, deadline: ContinuousClock.Instant, until done: () -> Bool) throws(Failure) {
        var timedOut = false
        let timer = self.loop.schedule(at: deadline) { [loop = self.loop] in
            timedOut = true
            loop.stop()
        }
        defer { self.loop.cancel(timer) }
        while !done() && !timedOut {
            do {
                try self.loop.run()
            } catch {
                throw .io(error)
            }
            if let error = self.io.readError { throw .init(error) }
        }
        if !done() { throw .timeout(what) }
    }
}
