import Reactor
import TLS
import WebSocket

/// Drives many WebSocket connections from one epoll loop and measures an echo server.
///
/// Each connection keeps `inFlight` messages outstanding: every reply received sends the next one,
/// so the figure is the server's sustained round-trip rate, and latency is measured per message from
/// its send to its echo. In churn mode each connection instead repeats connect, handshake, one round
/// trip and close, measuring sessions per second. With a message count, exactly that many round
/// trips (or sessions) are started and completed, whatever the connections and messages in flight.
public final class LoadGenerator {
    public struct Options: Sendable {
        public var url: WebSocketURL
        public var connections = 1
        /// Round trips (sessions, churning) to complete across all connections, exactly; nil runs for `duration`.
        public var messages: Int?
        public var duration: Duration = .seconds(5)
        public var size = 32
        public var inFlight = 1
        public var binary = false
        public var churn = false
        /// For `wss://`: how to verify the server (nil: the system's CA store), a client certificate.
        public var tls: TLSContext?
        /// Offer permessage-deflate with these settings; nil offers nothing.
        public var compression: PerMessageDeflate.Configuration?
        /// Called about four times a second with the messages (or sessions) done so far.
        public var progress: (@Sendable (Int, Duration) -> Void)?

        public init(url: WebSocketURL) {
            self.url = url
        }
    }

    public struct Result: Sendable {
        /// Round trips completed (sessions in churn mode).
        public var completed: Int
        public var payloadBytes: Int
        /// Bytes read from and written to the sockets, handshakes and frame headers included: with
        /// compression, what it saves on the wire.
        public var wireBytes = 0
        public var elapsed: Duration
        /// Round-trip (or session) latencies in microseconds, sorted.
        public var latencies: [UInt32]
        public var errors: [String]

        public var perSecond: Double { Double(self.completed) / self.elapsed.inSeconds }
        public var megabytesPerSecond: Double { Double(self.payloadBytes) / self.elapsed.inSeconds / 1e6 }

        public func percentile(_ p: Double) -> UInt32 {
            guard !self.latencies.isEmpty else { return 0 }
            let index = min(self.latencies.count - 1, Int(Double(self.latencies.count) * p / 100))
            return self.latencies[index]
        }
    }

    let options: Options
    let loop: EventLoop
    let address: SocketAddress
    let payload: [UInt8]
    let readBuffer: UnsafeMutableRawBufferPointer
    /// zlib streams for the connections whose compression keeps no context, shared on this loop.
    let deflateStreams = PerMessageDeflate.SharedStreams()
    var connections: [BenchConnection] = []
    var started: ContinuousClock.Instant = .now
    var completed = 0
    var wireBytes = 0
    var target: Int?
    /// Round trips (or sessions) started and not given back; never more than `target`.
    var claimed = 0
    var finishing = false
    /// Sessions still closing after the run, in `closeGracefully`.
    var closingCount = 0
    /// Set while closing after the run: messages that arrive then are not counted.
    var draining = false
    var latencies: [UInt32] = []
    var errors: [String] = []
    /// For `wss://`: the context every connection uses, and their shared scratch memory.
    let tlsContext: TLSContext?
    let tlsBuffers: TLSTransport.Buffers?

    public init(options: Options) throws {
        self.options = options
        if options.url.secure {
            self.tlsContext = try options.tls ?? TLSContext.client()
            self.tlsBuffers = TLSTransport.Buffers(size: 256 * 1024)
        } else {
            self.tlsContext = nil
            self.tlsBuffers = nil
        }
        guard let address = try SocketAddress.resolve(host: options.url.host, port: options.url.port).first else {
            throw BlockingClient.Failure.resolve(options.url.host)
        }
        self.address = address
        try EventLoop.ignoreSIGPIPE()
        self.loop = try EventLoop()
        self.payload = options.binary ? (0..<options.size).map { UInt8(truncatingIfNeeded: $0) }
            : Array(String(repeating: "x", count: options.size).utf8)
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        self.target = options.messages
        self.latencies.reserveCapacity(min(options.messages ?? 1_000_000, 10_000_000))
    }

    deinit {
        self.readBuffer.deallocate()
    }

    public func run() throws -> Result {
        self.started = self.loop.now
        for index in 0..<self.options.connections {
            let connection = BenchConnection(index: index, generator: self)
            self.connections.append(connection)
            if self.options.churn {
                connection.startClaimedSession()
            } else {
                connection.start()
            }
        }
        if self.target == nil {
            self.loop.schedule(after: self.options.duration) { [unowned self] in self.finish() }
        }
        if let progress = self.options.progress {
            self.scheduleProgress(progress)
        }
        try self.loop.run()
        let elapsed = self.loop.now - self.started
        self.closeGracefully()
        for connection in self.connections { connection.close() }
        self.loop.close()
        self.latencies.sort()
        let bytes = self.completed * self.options.size
        return Result(completed: self.completed, payloadBytes: bytes, wireBytes: self.wireBytes, elapsed: elapsed,
                      latencies: self.latencies, errors: self.errors)
    }

    private func scheduleProgress(_ progress: @escaping @Sendable (Int, Duration) -> Void) {
        self.loop.schedule(after: .milliseconds(250)) { [unowned self] in
            guard !self.finishing else { return }
            progress(self.completed, self.loop.now - self.started)
            self.scheduleProgress(progress)
        }
    }

    func recordCompletion(latency: Duration) {
        guard !self.draining, self.target.map({ self.completed < $0 }) ?? true else { return }
        self.completed += 1
        let micros = latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000
        self.latencies.append(UInt32(clamping: micros))
        if let target = self.target, self.completed >= target { self.finish() }
    }

    /// Takes the right to start one more round trip (or session): with `-n N`, N are handed out in
    /// all, so the run completes exactly N however many connections and messages in flight there are.
    func claim() -> Bool {
        guard !self.finishing else { return false }
        if let target = self.target, self.claimed >= target { return false }
        self.claimed += 1
        return true
    }

    func failed(_ connection: BenchConnection, _ message: String) {
        if self.errors.count < 100 { self.errors.append("connection \(connection.index): \(message)") }
        // Its unanswered round trips go back to the pool, for the connections still running.
        self.claimed -= connection.outstanding
        connection.hasFailed = true
        connection.close()
        if self.connections.allSatisfy(\.isClosed) {
            self.finish()
            return
        }
        for other in self.connections where other !== connection { other.topUp() }
        // Work is claimed only as replies come back (or, churning, as sessions end), so a run in
        // which no connection has any outstanding could never end by itself.
        let stalled = self.options.churn ? self.connections.allSatisfy(\.isClosed)
            : self.connections.allSatisfy { $0.isClosed || $0.outstanding == 0 }
        if stalled { self.finish() }
    }

    /// Ends every open session with a closing handshake, so the server sees clean closes rather
    /// than dropped connections; bounded to half a second. Not part of the measurement.
    private func closeGracefully() {
        var open = 0
        for connection in self.connections where connection.startClosing() { open += 1 }
        guard open > 0 else { return }
        self.closingCount = open
        self.draining = true
        let timer = self.loop.schedule(after: .milliseconds(500)) { [unowned self] in self.loop.stop() }
        try? self.loop.run()
        self.loop.cancel(timer)
    }

    /// A connection finished its closing handshake (or failed) after `closeGracefully` began.
    func connectionClosed() {
        guard self.closingCount > 0 else { return }
        self.closingCount -= 1
        if self.closingCount == 0 { self.loop.stop() }
    }

    func finish() {
        guard !self.finishing else { return }
        self.finishing = true
        self.loop.stop()
    }
}

extension Duration {
    /// The duration as floating-point seconds, for rates and reports.
    public var inSeconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) * 1e-18
    }
}
