import Reactor
import TLS
import WebSocket

/// One connection of a `LoadGenerator`: a small state machine on the generator's loop.
final class BenchConnection: EventHandler {
    enum Phase {
        case connecting, handshaking(HTTPHeadParser, ClientHandshake), open(Connection), closed
    }

    let index: Int
    unowned let generator: LoadGenerator
    var socket: Socket?
    /// The socket, or TLS over it for `wss://`.
    var transport: (any Transport)?
    var registration: Registration?
    var phase = Phase.closed
    var output: [UInt8] = []
    var outputOffset = 0
    /// Send times of the messages in flight, oldest first (echo preserves order).
    var sendTimes: [ContinuousClock.Instant] = []
    var sendTimesHead = 0
    var sessionStarted: ContinuousClock.Instant = .now
    /// Closing because the run is over (`startClosing`), not as part of a churn session.
    var closingAfterRun = false
    /// Round trips (or, churning, the session) claimed from the generator and not completed yet.
    private(set) var outstanding = 0
    /// Failed once: not started again for a churn session.
    var hasFailed = false

    init(index: Int, generator: LoadGenerator) {
        self.index = index
        self.generator = generator
    }

    var isClosed: Bool {
        if case .closed = self.phase { return true }
        return false
    }

    func start() {
        self.sessionStarted = self.generator.loop.now
        do {
            let (socket, connected) = try Socket.connect(to: self.generator.address)
            try? socket.setNoDelay(true)
            self.socket = socket
            if let context = self.generator.tlsContext, let buffers = self.generator.tlsBuffers {
                let tls = try TLSConnection(context: context, serverName: self.generator.options.url.host)
                self.transport = TLSTransport(socket: socket, connection: tls, buffers: buffers)
            } else {
                self.transport = PlainTransport(socket)
            }
            self.registration = try self.generator.loop.register(socket.fd, interest: .writable, handler: self)
            self.phase = .connecting
            if connected { self.connected() }
        } catch {
            self.generator.failed(self, "\(error)")
        }
    }

    private func connected() {
        let url = self.generator.options.url
        let handshake = ClientHandshake(host: url.hostHeader, target: url.target,
                                        compression: self.generator.options.compression)
        self.phase = .handshaking(HTTPHeadParser(kind: .response), handshake)
        self.output.append(contentsOf: handshake.request.serialized())
        self.flush()
    }

    func handle(_ readiness: Readiness) {
        if case .connecting = self.phase {
            do {
                try self.socket?.finishConnect()
            } catch {
                self.generator.failed(self, "\(error)")
                return
            }
            self.connected()
            return
        }
        if !readiness.isDisjoint(with: [.readable, .hangup, .error]) {
            self.read()
        }
        if !self.isClosed && readiness.contains(.writable) {
            self.flush()
        }
    }

    private func read() {
        guard let socket = self.socket, let transport = self.transport else { return }
        let buffer = self.generator.readBuffer
        while true {
            let result: IOResult<Int>
            do {
                result = try transport.read(into: buffer)
            } catch {
                self.generator.failed(self, "\(error)")
                return
            }
            guard case .processed(let count) = result else { break }
            guard count > 0 else {
                if !self.generator.finishing { self.generator.failed(self, "server closed the connection") }
                else { self.close() }
                return
            }
            self.generator.wireBytes += count
            self.process(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
            // A churn restart replaced the socket: the new one has its own registration.
            if self.socket !== socket { return }
            if self.isClosed || (count < buffer.count && !transport.hasBufferedInput) { break }
        }
        self.flush()
    }

    private func process(_ bytes: UnsafeMutableRawBufferPointer) {
        switch self.phase {
        case .handshaking(var parser, let handshake):
            do {
                guard let (head, rest) = try parser.feed(bytes) else {
                    self.phase = .handshaking(parser, handshake)
                    return
                }
                let accepted = try handshake.validateResponse(head)
                var extensions: [any Extension] = []
                if let agreement = accepted.deflate, let settings = self.generator.options.compression {
                    extensions.append(PerMessageDeflate(side: .client, agreement: agreement, configuration: settings,
                                                        shared: self.generator.deflateStreams))
                }
                let connection = Connection(side: .client, configuration: .init(
                    maxMessageSize: 1 << 30, maskingKeys: PseudoRandomKeys.source()), extensions: extensions)
                self.phase = .open(connection)
                self.opened(connection)
                self.pullOutput(connection)
                if !rest.isEmpty {
                    var copy = rest
                    copy.withUnsafeMutableBytes { connection.receive(mutating: $0) }
                    self.handleEvents(connection)
                }
            } catch {
                self.generator.failed(self, "handshake: \(error)")
            }
        case .open(let connection):
            connection.receive(mutating: bytes)
            self.handleEvents(connection)
        case .connecting, .closed:
            break
        }
    }

    private func opened(_ connection: Connection) {
        if self.generator.options.churn {
            self.sendOne(connection)  // its claim was taken when the session started
        } else {
            self.fill(connection)
        }
    }

    /// Sends round trips until `inFlight` are outstanding or the generator has none left to give.
    private func fill(_ connection: Connection) {
        while self.outstanding < self.generator.options.inFlight && self.generator.claim() {
            self.outstanding += 1
            self.sendOne(connection)
        }
    }

    /// Takes up work another connection gave back: more round trips on an open connection, or, in
    /// churn mode, a new session on one that is idle.
    func topUp() {
        switch self.phase {
        case .open(let connection) where !self.generator.options.churn && connection.state == .open:
            self.fill(connection)
            self.pullOutput(connection)
            self.flush()
        case .closed where self.generator.options.churn && !self.hasFailed:
            self.startClaimedSession()
        default:
            break
        }
    }

    /// Churn mode: starts a session if the generator has one to give.
    func startClaimedSession() {
        guard self.generator.claim() else { return }
        self.outstanding = 1
        self.start()
    }

    private func sendOne(_ connection: Connection) {
        let payload = self.generator.payload
        if self.generator.options.binary {
            try? connection.send(binary: payload)
        } else {
            _ = payload.withUnsafeBytes { try? connection.send(textUTF8: $0) }
        }
        self.sendTimes.append(self.generator.loop.now)
    }

    private func handleEvents(_ connection: Connection) {
        let now = self.generator.loop.now
        for event in connection.takeEvents() {
            switch event {
            case .text, .binary:
                guard self.sendTimesHead < self.sendTimes.count else {
                    self.generator.failed(self, "unexpected message")
                    return
                }
                let sentAt = self.sendTimes[self.sendTimesHead]
                self.sendTimesHead += 1
                self.outstanding -= 1
                if self.generator.options.churn {
                    self.generator.recordCompletion(latency: now - self.sessionStarted)
                    try? connection.close()
                } else {
                    self.generator.recordCompletion(latency: now - sentAt)
                    self.fill(connection)
                }
            case .close:
                if self.closingAfterRun {
                    self.close()
                    return
                }
                if self.generator.options.churn {
                    self.restart()
                    return
                }
            case .ping, .pong:
                break
            }
        }
        if self.sendTimesHead > 1024 && self.sendTimesHead * 2 > self.sendTimes.count {
            self.sendTimes.removeSubrange(0..<self.sendTimesHead)
            self.sendTimesHead = 0
        }
        self.pullOutput(connection)
    }

    private func pullOutput(_ connection: Connection) {
        guard connection.hasPendingOutput else { return }
        let pending = connection.takePendingOutput()
        self.output.append(contentsOf: pending.control)
        self.output.append(contentsOf: pending.data)
    }

    /// Churn mode: the server answered our close; start the next session.
    private func restart() {
        self.close()
        self.sendTimes.removeAll(keepingCapacity: true)
        self.sendTimesHead = 0
        self.startClaimedSession()
    }

    private func flush() {
        guard let transport = self.transport, let registration = self.registration else { return }
        do {
            while self.outputOffset < self.output.count {
                guard case .processed(let count) = try transport.write([self.output][...], skippingFirst: self.outputOffset)
                else { break }
                self.outputOffset += count
                self.generator.wireBytes += count
            }
            try transport.flushPendingOutput()
        } catch {
            self.generator.failed(self, "\(error)")
            return
        }
        if self.outputOffset == self.output.count {
            self.output.removeAll(keepingCapacity: true)
            self.outputOffset = 0
        }
        var interest = transport.interest(reading: true, writing: !self.output.isEmpty)
        interest.remove(.hangup)
        try? self.generator.loop.modify(registration, interest: interest)
    }

    /// Sends a close frame if the session is open; returns whether one was sent.
    func startClosing() -> Bool {
        guard case .open(let connection) = self.phase, connection.state == .open else { return false }
        try? connection.close()
        self.closingAfterRun = true
        self.pullOutput(connection)
        self.flush()
        return true
    }

    func close() {
        self.outstanding = 0
        if self.closingAfterRun {
            self.closingAfterRun = false
            self.generator.connectionClosed()
        }
        if let registration = self.registration {
            self.generator.loop.deregister(registration)
            self.registration = nil
        }
        self.transport?.close()
        self.transport = nil
        self.socket = nil
        self.phase = .closed
        self.output.removeAll(keepingCapacity: true)
        self.outputOffset = 0
    }
}
