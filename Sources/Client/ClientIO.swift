import Reactor
import TLS
import WebSocket

/// The socket side of a `BlockingClient`: reads into the connection within a bound, writes what is pending.
///
/// Reading is bounded the way the gateway's sessions are: once the events not yet taken hold more
/// than `eventHighWater` bytes, the socket is not read until the caller has taken them down to half
/// that (TCP flow control then slows the server), and the caller can pause reading outright while
/// its own output backs up. A server that floods therefore costs a bounded amount of memory, however
/// fast it sends and however slowly the caller consumes.
final class ClientIO: EventHandler {
    /// Bytes of undelivered messages above which the socket is not read.
    static let eventHighWater = 1 << 20
    /// Reads per wake-up, so that one flooding socket cannot starve the loop's other descriptors
    /// (the loop is level-triggered: what is left is reported again at once).
    static let readsPerWakeup = 16

    let socket: Socket
    /// The socket, or TLS over it (`wss://`), once connected.
    var transport: any Transport
    unowned let loop: EventLoop
    var registration: Registration?
    var connection: Connection?
    var connecting = false
    var connectError: SystemError?
    var readError: TransportError?
    var writeError: TransportError?
    /// Bytes before the handshake completed (the response head, and a refusal's body).
    var received: [UInt8] = []
    private(set) var events = EventQueue()
    var pending: [UInt8] = []
    var eof = false
    /// The caller's pause (`BlockingClient.isReadingPaused`).
    var pausedByCaller = false {
        didSet { self.updateInterest() }
    }
    /// Paused because `events` went over the high-water mark; cleared at half of it.
    private var pausedByBacklog = false
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(socket: Socket, loop: EventLoop) {
        self.socket = socket
        self.transport = PlainTransport(socket)
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

    var isReadingPaused: Bool { self.pausedByCaller || self.pausedByBacklog }

    private func read() {
        var reads = 0
        while !self.eof && !self.isReadingPaused && reads < Self.readsPerWakeup {
            reads += 1
            let result: IOResult<Int>
            do {
                result = try self.buffer.withUnsafeMutableBytes { bytes in
                    Result { () throws(TransportError) in try self.transport.read(into: bytes) }
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
                self.buffer.withUnsafeMutableBytes {
                    connection.receive(mutating: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]))
                }
                for event in connection.takeEvents() { self.events.append(event) }
                if self.events.byteCount > Self.eventHighWater { self.pausedByBacklog = true }
            } else {
                self.received.append(contentsOf: self.buffer[0..<count])
            }
        }
        // What TLS decrypted and holds is never reported by epoll: come back for it.
        if self.transport.hasBufferedInput && !self.eof && !self.isReadingPaused {
            self.loop.runSoon { [weak self] in self?.handle(.readable) }
        }
        self.updateInterest()
    }

    /// The oldest event not yet taken; resumes reading once the backlog is down to half the mark.
    func popEvent() -> Connection.Event? {
        let event = self.events.popFirst()
        self.resumeIfDrained()
        return event
    }

    /// Every event not yet taken, oldest first.
    func takeEvents() -> [Connection.Event] {
        let events = self.events.takeAll()
        self.resumeIfDrained()
        return events
    }

    /// Queues events that arrived with the handshake response.
    func appendEvents(_ events: [Connection.Event]) {
        for event in events { self.events.append(event) }
    }

    private func resumeIfDrained() {
        guard self.pausedByBacklog, self.events.byteCount <= Self.eventHighWater / 2 else { return }
        self.pausedByBacklog = false
        self.updateInterest()
    }

    func flush() throws(BlockingClient.Failure) {
        do {
            while !self.pending.isEmpty {
                guard case .processed(let count) = try self.transport.write([self.pending][...], skippingFirst: 0),
                    count > 0
                else { break }
                self.pending.removeFirst(count)
            }
            try self.transport.flushPendingOutput()
        } catch {
            self.writeError = error
            self.pending = []
            throw .init(error)
        }
        self.updateInterest()
    }

    func shutdownWrite() {
        try? self.transport.shutdownWrite()
    }

    func updateInterest() {
        guard let registration = self.registration else { return }
        var interest: Interest
        if self.connecting {
            interest = .writable
        } else {
            interest = self.transport.interest(reading: !self.eof && !self.isReadingPaused, writing: !self.pending.isEmpty)
            if self.eof { interest.remove(.readable) }
            interest.remove(.hangup)
        }
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

/// A FIFO of received events that knows roughly how much memory it holds.
///
/// Popping from the front moves a head index rather than the elements: a flood of small messages
/// taken one at a time (`BlockingClient.nextEvent`) would otherwise cost time quadratic in the backlog.
struct EventQueue {
    private var items: [Connection.Event] = []
    private var head = 0
    /// Payload bytes plus a fixed charge per event for the event itself.
    private(set) var byteCount = 0

    /// What one event is charged beyond its payload: its slot in the array and its string's storage.
    static let overheadPerEvent = 32

    var isEmpty: Bool { self.head == self.items.count }

    mutating func append(_ event: Connection.Event) {
        self.items.append(event)
        self.byteCount += Self.cost(of: event)
    }

    mutating func popFirst() -> Connection.Event? {
        guard self.head < self.items.count else { return nil }
        let event = self.items[self.head]
        self.head += 1
        self.byteCount -= Self.cost(of: event)
        if self.head == self.items.count {
            self.items.removeAll(keepingCapacity: true)
            self.head = 0
        } else if self.head >= 1024 && self.head * 2 >= self.items.count {
            self.items.removeSubrange(0..<self.head)
            self.head = 0
        }
        return event
    }

    mutating func takeAll() -> [Connection.Event] {
        let taken = self.head == 0 ? self.items : Array(self.items[self.head...])
        self.items = []
        self.head = 0
        self.byteCount = 0
        return taken
    }

    private static func cost(of event: Connection.Event) -> Int {
        switch event {
        case .text(let text): text.utf8.count + Self.overheadPerEvent
        case .binary(let bytes), .ping(let bytes), .pong(let bytes): bytes.count + Self.overheadPerEvent
        case .close(_, let reason): reason.utf8.count + Self.overheadPerEvent
        }
    }
}
