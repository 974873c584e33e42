import Reactor
import WebSocket

/// A WebSocket client with a synchronous API: each call waits, within a timeout, on a private epoll loop.
///
/// For tests, scripts and the `wsgate send` command: one connection, one thread. Not for many
/// connections at once (that is `wsgate bench`'s own loop).
public final class BlockingClient {
    public struct Options {
        public var origin: String?
        public var subprotocols: [String] = []
        public var headers: [(name: String, value: String)] = []
        /// Bound on connecting, the handshake, and every wait without its own timeout.
        public var timeout: Duration = .seconds(5)
        public var maxMessageSize = 64 << 20
        /// Answer pings automatically (turn off to test a server's keepalive).
        public var autoPong = true

        public init() {}
    }

    public enum Failure: Error, CustomStringConvertible {
        case url(String)
        case unsupported(String)
        case resolve(String)
        case connect(SystemError)
        case io(SystemError)
        case malformedResponse(String)
        case handshake(ClientHandshakeError, HTTPHead)
        case timeout(String)
        case closed

        public var description: String {
            switch self {
            case .url(let text): "bad URL: \(text)"
            case .unsupported(let text): text
            case .resolve(let text): "cannot resolve host: \(text)"
            case .connect(let error): "cannot connect: \(error)"
            case .io(let error): "connection failed: \(error)"
            case .malformedResponse(let text): "malformed handshake response: \(text)"
            case .handshake(let error, _): "handshake failed: \(error)"
            case .timeout(let what): "timed out \(what)"
            case .closed: "connection closed"
            }
        }
    }

    public let url: WebSocketURL
    /// The server's handshake response.
    public private(set) var response = HTTPHead(startLine: .response(version: "HTTP/1.1", status: 0, reason: ""))
    public private(set) var subprotocol: String?
    public let connection: Connection
    let options: Options
    let loop: EventLoop
    let io: ClientIO

    public init(url text: String, options: Options = .init()) throws(Failure) {
        do {
            self.url = try WebSocketURL(text)
        } catch {
            throw .url(error.description)
        }
        guard !self.url.secure else { throw .unsupported("wss:// needs TLS, which wsgate does not support yet") }
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
            self.io.registration = try self.loop.register(socket.fd, interest: connected ? .readable : .writable,
                                                          handler: self.io)
            if !connected {
                self.io.connecting = true
                try self.wait("connecting to \(address)", deadline: self.deadline()) { !self.io.connecting }
                if let error = self.io.connectError { throw Failure.connect(error) }
            }
            try? socket.setNoDelay(true)
            try self.handshake()
        } catch let failure as Failure {
            self.disconnect()
            throw failure
        } catch {
            self.disconnect()
            throw .io(error as! SystemError)
        }
    }

    deinit {
        self.disconnect()
    }

    private func deadline(_ timeout: Duration? = nil) -> ContinuousClock.Instant {
        .now + (timeout ?? self.options.timeout)
    }

    private func handshake() throws(Failure) {
        let request = ClientHandshake(host: self.url.hostHeader, target: self.url.target, origin: self.options.origin,
                                      subprotocols: self.options.subprotocols, extraHeaders: self.options.headers)
        try self.write(request.request.serialized())
        var parser = HTTPHeadParser(kind: .response)
        let deadline = self.deadline()
        while true {
            try self.wait("waiting for the handshake response", deadline: deadline) {
                !self.io.received.isEmpty || self.io.eof
            }
            if self.io.received.isEmpty && self.io.eof { throw .malformedResponse("connection closed before a response") }
            let bytes = self.io.received
            self.io.received = []
            let parsed: (head: HTTPHead, rest: [UInt8])?
            do {
                parsed = try parser.feed(bytes)
            } catch {
                throw .malformedResponse("\(error)")
            }
            guard let (head, rest) = parsed else { continue }
            self.response = head
            do {
                self.subprotocol = try request.validate(head)
            } catch {
                throw Failure.handshake(error, head)
            }
            self.io.connection = self.connection
            if !rest.isEmpty {
                self.connection.receive(rest)
                self.io.events.append(contentsOf: self.connection.takeEvents())
            }
            return
        }
    }

    // MARK: Sending

    public func send(text: String) throws(Failure) {
        try self.perform { () throws(ConnectionStateError) in try self.connection.send(text: text) }
    }

    public func send(binary: [UInt8]) throws(Failure) {
        try self.perform { () throws(ConnectionStateError) in try self.connection.send(binary: binary) }
    }

    /// Sends one fragment of a message: `opcode` .text or .binary first, then .continuation.
    public func sendFragment(_ opcode: Opcode, _ payload: [UInt8], fin: Bool) throws(Failure) {
        try self.perform { () throws(ConnectionStateError) in
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
        try self.perform { () throws(ConnectionStateError) in try self.connection.sendPing(payload) }
    }

    /// Starts the closing handshake; read events until `.close` arrives to finish it.
    public func close(code: CloseCode = .normalClosure, reason: String = "") throws(Failure) {
        try self.perform { () throws(ConnectionStateError) in try self.connection.close(code: code, reason: reason) }
    }

    /// Writes bytes as they are, bypassing the protocol: for testing how a server handles bad frames.
    public func sendRaw(_ bytes: [UInt8]) throws(Failure) {
        try self.write(bytes)
    }

    private func perform(_ body: () throws(ConnectionStateError) -> Void) throws(Failure) {
        do {
            try body()
        } catch {
            throw .closed
        }
        try self.flushConnection()
    }

    func flushConnection() throws(Failure) {
        for output in self.connection.takeOutput() {
            switch output {
            case .bytes(let bytes): try self.write(bytes)
            case .endOfStream: self.io.shutdownWrite()
            }
        }
    }

    private func write(_ bytes: [UInt8]) throws(Failure) {
        self.io.pending.append(contentsOf: bytes)
        try self.io.flush()
        if !self.io.pending.isEmpty {
            try self.wait("writing", deadline: self.deadline()) { self.io.pending.isEmpty || self.io.writeError != nil }
        }
        if let error = self.io.writeError { throw .io(error) }
    }

    // MARK: Receiving

    /// The next event (message, ping, pong, close), or nil once the server closed the TCP connection.
    /// - Throws: `.timeout` when nothing arrives within `timeout` (the options' timeout by default).
    public func nextEvent(timeout: Duration? = nil) throws(Failure) -> Connection.Event? {
        let deadline = self.deadline(timeout)
        while true {
            if let event = self.io.events.first {
                self.io.events.removeFirst()
                return event
            }
            if self.io.eof { return nil }
            try self.wait("waiting for a message", deadline: deadline) { !self.io.events.isEmpty || self.io.eof }
            try self.flushConnection()  // pongs, the echo of a close
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
    public func waitForClose(timeout: Duration? = nil) throws(Failure) -> (code: CloseCode?, reason: String)? {
        while let event = try self.nextEvent(timeout: timeout) {
            if case .close(let code, let reason) = event { return (code, reason) }
        }
        return nil
    }

    /// Waits until the server closes the TCP connection.
    public func waitForEOF(timeout: Duration? = nil) throws(Failure) {
        while try self.nextEvent(timeout: timeout) != nil {}
    }

    /// The client's loop, for watching other descriptors (stdin, a child's pipes) alongside the socket.
    ///
    /// Handlers registered here must not call this client's blocking methods: they run inside
    /// `poll`. Let them record what happened and call `eventLoop.stop()`; act after `poll` returns.
    public var eventLoop: EventLoop { self.loop }

    /// Runs the loop until anything happens (socket or other registered descriptor) or `timeout`
    /// passes, then sends what the connection queued (pongs, a close echo).
    public func poll(timeout: Duration) throws(Failure) {
        // Events that came with the handshake response, or in an earlier read, are already here.
        guard self.io.events.isEmpty && !self.io.eof else {
            try self.flushConnection()
            return
        }
        var timedOut = false
        let timer = self.loop.schedule(after: timeout) { [loop = self.loop] in
            timedOut = true
            loop.stop()
        }
        defer { self.loop.cancel(timer) }
        do {
            try self.loop.run()
        } catch {
            throw .io(error)
        }
        _ = timedOut
        if let error = self.io.readError { throw .io(error) }
        try self.flushConnection()
    }

    /// Events received and not yet taken, oldest first.
    public func takeEvents() -> [Connection.Event] {
        defer { self.io.events = [] }
        return self.io.events
    }

    /// Whether the server has closed the TCP connection.
    public var isDisconnected: Bool { self.io.eof }

    /// Closes the socket at once, without a closing handshake.
    public func disconnect() {
        self.io.close()
        self.loop.close()
    }

    private func wait(_ what: String, deadline: ContinuousClock.Instant, until done: () -> Bool) throws(Failure) {
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
            if let error = self.io.readError { throw .io(error) }
        }
        if !done() { throw .timeout(what) }
    }
}

/// The socket side of a `BlockingClient`: reads into the connection, writes what is pending.
final class ClientIO: EventHandler {
    let socket: Socket
    unowned let loop: EventLoop
    var registration: Registration?
    var connection: Connection?
    var connecting = false
    var connectError: SystemError?
    var readError: SystemError?
    var writeError: SystemError?
    var received: [UInt8] = []
    var events: [Connection.Event] = []
    var pending: [UInt8] = []
    var eof = false
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(socket: Socket, loop: EventLoop) {
        self.socket = socket
        self.loop = loop
    }

    func handle(_ readiness: Readiness) {
        if self.connecting {
            self.connecting = false
            do { try self.socket.finishConnect() } catch { self.connectError = error }
            self.updateInterest()
            self.loop.stop()
            return
        }
        if readiness.contains(.writable) {
            try? self.flush()
        }
        if !readiness.isDisjoint(with: [.readable, .hangup, .error]) {
            self.read()
        }
        self.loop.stop()
    }

    private func read() {
        while !self.eof {
            let result: IOResult<Int>
            do {
                result = try self.buffer.withUnsafeMutableBytes { bytes in
                    Result { () throws(SystemError) in try self.socket.read(into: bytes) }
                }.get()
            } catch {
                self.readError = error
                self.eof = true
                break
            }
            guard case .processed(let count) = result else { break }
            if count == 0 {
                self.eof = true
                self.connection?.receiveEOF()
                break
            }
            if let connection = self.connection {
                self.buffer.withUnsafeMutableBytes { connection.receive(mutating: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count])) }
                self.events.append(contentsOf: connection.takeEvents())
            } else {
                self.received.append(contentsOf: self.buffer[0..<count])
            }
        }
        self.updateInterest()
    }

    func flush() throws(BlockingClient.Failure) {
        while !self.pending.isEmpty {
            let result: IOResult<Int>
            do {
                result = try self.pending.withUnsafeBytes { bytes in
                    Result { () throws(SystemError) in try self.socket.write(bytes) }
                }.get()
            } catch {
                self.writeError = error
                self.pending = []
                throw .io(error)
            }
            guard case .processed(let count) = result else { break }
            self.pending.removeFirst(count)
        }
        self.updateInterest()
    }

    func shutdownWrite() {
        try? self.socket.shutdownWrite()
    }

    private func updateInterest() {
        guard let registration = self.registration else { return }
        var interest: Interest = []
        if !self.eof { interest.insert(.readable) }
        if !self.pending.isEmpty || self.connecting { interest.insert(.writable) }
        try? self.loop.modify(registration, interest: interest)
    }

    func close() {
        if let registration = self.registration {
            self.loop.deregister(registration)
            self.registration = nil
        }
        if !self.socket.isClosed { self.socket.close() }
    }
}
