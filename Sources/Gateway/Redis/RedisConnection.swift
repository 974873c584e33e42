import Reactor

/// What a `RedisConnection` tells its owner, on the loop thread.
protocol RedisConnectionDelegate: AnyObject {
    /// Logged in and on the right database: commands may be sent.
    func redisConnectionDidBecomeReady(_ connection: RedisConnection)
    /// A reply or push after the handshake.
    func redisConnection(_ connection: RedisConnection, didReceive value: RESPValue)
    /// The connection failed or was lost (`reason` for logs; `refused`: Redis answered the login
    /// with an error, such as a wrong password). It connects again by itself after a back-off.
    func redisConnection(_ connection: RedisConnection, didFail reason: String, refused: Bool)
}

/// One non-blocking connection to Redis on the event loop, which keeps itself connected.
///
/// On connect it pipelines the login (`AUTH`, `SELECT`) and waits for those replies before it is
/// ready. Commands are appended to a bounded output buffer and written as the socket takes them,
/// so many commands go out in one write (pipelining) and a slow Redis only fills the buffer:
/// `send` refuses what does not fit and the caller counts it as dropped. Nothing blocks the loop.
///
/// When the connection fails (refused, reset, a protocol error, no handshake within
/// `connectTimeout`) it is closed and tried again after a back-off that doubles from
/// `firstRetryDelay` up to `longestRetryDelay`, and starts over once a connection is ready.
/// The host is resolved when the connection is made (`RoomBus.start`), never on the loop after.
final class RedisConnection: EventHandler {
    static let firstRetryDelay: Duration = .milliseconds(100)
    static let longestRetryDelay: Duration = .seconds(5)
    static let connectTimeout: Duration = .seconds(5)

    private enum State {
        /// Not connected; a retry may be scheduled.
        case idle
        case connecting
        /// Connected, waiting for this many login replies.
        case handshaking(Int)
        case ready
    }

    let role: String
    let addresses: [SocketAddress]
    let endpoint: RedisEndpoint
    let maxOutputBytes: Int
    unowned let loop: EventLoop
    weak var delegate: (any RedisConnectionDelegate)?
    private var state = State.idle
    private var socket: Socket?
    private var registration: Registration?
    private var decoder: RESPDecoder
    private let limits: RESPLimits
    private var output: [UInt8] = []
    private var outputStart = 0
    private var retryDelay = RedisConnection.firstRetryDelay
    private var timer: TimerID?
    private var nextAddress = 0
    private var stopped = false
    private let readBuffer: UnsafeMutableRawBufferPointer

    init(role: String, endpoint: RedisEndpoint, addresses: [SocketAddress], limits: RESPLimits, maxOutputBytes: Int,
         loop: EventLoop) {
        precondition(!addresses.isEmpty)
        self.role = role
        self.endpoint = endpoint
        self.addresses = addresses
        self.limits = limits
        self.decoder = RESPDecoder(limits: limits)
        self.maxOutputBytes = maxOutputBytes
        self.loop = loop
        self.readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        self.readBuffer.deallocate()
    }

    var isReady: Bool {
        if case .ready = self.state { return true }
        return false
    }

    /// Bytes waiting for the socket.
    var queuedBytes: Int { self.output.count - self.outputStart }

    /// Connects now (and again whenever the connection is lost, until `stop`).
    func start() {
        self.stopped = false
        self.connect()
    }

    /// Closes the connection for good.
    func stop() {
        self.stopped = true
        if let timer = self.timer { self.loop.cancel(timer) }
        self.timer = nil
        self.closeSocket()
        self.state = .idle
    }

    /// Queues one encoded command (or several), if the connection is ready and they fit.
    /// - Returns: false when they were not queued: not connected, or `maxOutputBytes` already waiting.
    @discardableResult
    func send(_ append: (inout [UInt8]) -> Void) -> Bool {
        guard self.isReady, self.queuedBytes < self.maxOutputBytes else { return false }
        let wasEmpty = self.queuedBytes == 0
        append(&self.output)
        // Written after the current batch of events, so commands queued together go in one write.
        if wasEmpty { self.loop.runSoon { [weak self] in self?.flush() } }
        return true
    }

    // MARK: Connecting

    private func connect() {
        guard !self.stopped, case .idle = self.state else { return }
        let address = self.addresses[self.nextAddress % self.addresses.count]
        self.nextAddress += 1
        self.timer = self.loop.schedule(after: Self.connectTimeout) { [unowned self] in
            self.timer = nil
            self.fail("no answer within \(Self.connectTimeout)", refused: false)
        }
        do throws(SystemError) {
            let (socket, connected) = try Socket.connect(to: address)
            self.socket = socket
            try? socket.setNoDelay(true)
            self.registration = try self.loop.register(socket.fd, interest: connected ? .readable : .writable,
                                                       handler: self)
            self.state = .connecting
            if connected { self.didConnect() }
        } catch {
            self.fail("\(error)", refused: false)
        }
    }

    private func didConnect() {
        let commands = self.endpoint.handshakeCommands
        self.output = Array(commands.joined())
        self.outputStart = 0
        self.decoder = RESPDecoder(limits: self.limits)
        if commands.isEmpty {
            self.becomeReady()
        } else {
            self.state = .handshaking(commands.count)
            self.flush()
        }
    }

    private func becomeReady() {
        if let timer = self.timer { self.loop.cancel(timer) }
        self.timer = nil
        self.state = .ready
        self.retryDelay = Self.firstRetryDelay
        self.delegate?.redisConnectionDidBecomeReady(self)
        self.updateInterest()
    }

    /// Drops the connection, tells the delegate, and schedules the next attempt.
    private func fail(_ reason: String, refused: Bool) {
        if let timer = self.timer { self.loop.cancel(timer) }
        self.timer = nil
        self.closeSocket()
        self.state = .idle
        self.output = []
        self.outputStart = 0
        self.delegate?.redisConnection(self, didFail: reason, refused: refused)
        guard !self.stopped else { return }
        let delay = self.retryDelay
        self.retryDelay = min(self.retryDelay * 2, Self.longestRetryDelay)
        self.timer = self.loop.schedule(after: delay) { [unowned self] in
            self.timer = nil
            self.connect()
        }
    }

    private func closeSocket() {
        if let registration = self.registration { self.loop.deregister(registration) }
        self.registration = nil
        self.socket?.close()
        self.socket = nil
    }

    // MARK: Events

    func handle(_ readiness: Readiness) {
        guard let socket = self.socket else { return }
        if case .connecting = self.state {
            do throws(SystemError) {
                try socket.finishConnect()
            } catch {
                self.fail("\(error)", refused: false)
                return
            }
            self.didConnect()
            return
        }
        // Reads first: a reply may end the handshake, or a closed connection makes writing moot.
        if readiness.contains(.readable) || readiness.contains(.hangup) || readiness.contains(.error) {
            guard self.read() else { return }
        }
        if readiness.contains(.writable) { self.flush() }
    }

    /// Reads what is there and hands over every whole value; false when the connection failed.
    private func read() -> Bool {
        guard let socket = self.socket else { return false }
        // A few reads per wake-up, so a flood of pushes cannot starve the loop's other descriptors.
        for _ in 0..<4 {
            let count: Int
            do throws(SystemError) {
                guard case .processed(let read) = try socket.read(into: self.readBuffer) else { return true }
                count = read
            } catch {
                self.fail("\(error)", refused: false)
                return false
            }
            guard count > 0 else {
                self.fail("connection closed by Redis", refused: false)
                return false
            }
            self.decoder.feed(UnsafeRawBufferPointer(rebasing: self.readBuffer[..<count]))
            do throws(RESPError) {
                while self.socket != nil, let value = try self.decoder.next() {
                    self.received(value)
                }
            } catch {
                self.fail("protocol error: \(error)", refused: false)
                return false
            }
            guard self.socket != nil else { return false }
            if count < self.readBuffer.count { return true }
        }
        return true
    }

    private func received(_ value: RESPValue) {
        switch self.state {
        case .handshaking(let remaining):
            if case .error(let text) = value {
                self.fail(text, refused: true)
                return
            }
            if remaining == 1 { self.becomeReady() } else { self.state = .handshaking(remaining - 1) }
        case .ready:
            self.delegate?.redisConnection(self, didReceive: value)
        case .idle, .connecting:
            break
        }
    }

    private func flush() {
        guard let socket = self.socket, self.queuedBytes > 0 else {
            self.updateInterest()
            return
        }
        while self.queuedBytes > 0 {
            let start = self.outputStart
            let outcome = self.output.withUnsafeBytes { all in
                Result { () throws(SystemError) in try socket.write(UnsafeRawBufferPointer(rebasing: all[start...])) }
            }
            guard case .success(let result) = outcome else {
                if case .failure(let error) = outcome { self.fail("\(error)", refused: false) }
                return
            }
            guard case .processed(let written) = result else { break }
            self.outputStart += written
        }
        if self.queuedBytes == 0 {
            self.output.removeAll(keepingCapacity: self.output.capacity <= 256 * 1024)
            self.outputStart = 0
        } else if self.outputStart > 64 * 1024 {
            self.output.removeSubrange(0..<self.outputStart)
            self.outputStart = 0
        }
        self.updateInterest()
    }

    private func updateInterest() {
        guard let registration = self.registration else { return }
        var interest: Interest = .readable
        if self.queuedBytes > 0 { interest.insert(.writable) }
        do throws(SystemError) {
            try self.loop.modify(registration, interest: interest)
        } catch {
            self.fail("\(error)", refused: false)
        }
    }
}
