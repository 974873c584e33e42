/// One side of a WebSocket connection after the opening handshake, as a pure state machine.
///
/// Bytes in (`receive`, `receiveEOF`), events and bytes out (`takeEvents`, `takeOutput`); it never
/// touches a socket, a clock or a thread. The shape is python-websockets' sans-I/O `Protocol`:
///
///     let connection = Connection(side: .server)
///     connection.receive(bytesFromSocket)
///     for output in connection.takeOutput() { … write it, or close the socket on .endOfStream }
///     for event in connection.takeEvents() { … }
///
/// Peer faults never escape `receive`: they become a close frame with the code that names them
/// (1002, 1007, 1009), sent after whatever was queued before. The opening handshake is done by
/// `ServerHandshake` / `ClientHandshake`, so a connection starts out `.open`.
/// A class, because it is an owner: one per socket, and extensions hold compression state.
public final class Connection {
    public enum Side: Sendable, Equatable {
        case server, client
    }

    /// RFC 6455 §4 and §7: OPEN until a close frame is sent or received, CLOSING until the TCP
    /// connection ends, then CLOSED. (CONNECTING is the handshake types' phase.)
    public enum State: Sendable, Equatable {
        case open, closing, closed
    }

    public enum Event: Equatable, Sendable {
        case text(String)
        case binary([UInt8])
        case ping([UInt8])
        case pong([UInt8])
        /// The peer's close frame: its code (nil when it had none) and reason.
        case close(CloseCode?, String)
    }

    /// An event with its data message lent rather than copied (`receive(mutating:lendingMessages:)`):
    /// the bytes are valid until the caller's buffer is written again, so take it before that.
    public enum LentEvent {
        /// A whole text message, valid UTF-8.
        case text(UnsafeRawBufferPointer)
        case binary(UnsafeRawBufferPointer)
        /// Any other event, and a message that was assembled or decoded rather than found whole.
        case other(Event)
    }

    public enum Output: Equatable, Sendable {
        case bytes([UInt8])
        /// Close the TCP connection (or half-close it) now.
        case endOfStream
    }

    public struct Configuration: Sendable {
        /// The largest message accepted, in bytes, counted across fragments before the excess is buffered.
        public var maxMessageSize: Int
        /// Answer pings with pongs by itself (RFC 6455 §5.5.2).
        public var autoPong: Bool
        /// Client side only: where masking keys come from.
        public var maskingKeys: MaskingKeySource

        public init(maxMessageSize: Int = 1 << 20, autoPong: Bool = true, maskingKeys: MaskingKeySource = .random) {
            self.maxMessageSize = maxMessageSize
            self.autoPong = autoPong
            self.maskingKeys = maskingKeys
        }
    }

    public let side: Side
    public let configuration: Configuration
    // The mutable state below is `@exclusivity(unchecked)`: a connection belongs to one thread and no
    // method holds an access to it across a call back to the caller, so the runtime's dynamic checks
    // (a third of the instructions a 32-byte echo took) would find nothing.
    @exclusivity(unchecked) public internal(set) var state: State = .open
    /// The code and reason of the close frame received, once one was.
    public internal(set) var closeReceived: (code: CloseCode?, reason: String)?
    /// The code and reason of the close frame sent, once one was.
    public internal(set) var closeSent: (code: CloseCode?, reason: String)?

    let extensions: [any Extension]
    let allowedReservedBits: Frame.ReservedBits
    let log: LogSink?

    // Receiving. `input[inputStart...]` is what has not been parsed yet.
    @exclusivity(unchecked) var input: [UInt8] = []
    @exclusivity(unchecked) var inputStart = 0
    @exclusivity(unchecked) var parser = ParserState.header
    @exclusivity(unchecked) var message: MessageInProgress?
    @exclusivity(unchecked) var controlPayload: [UInt8] = []
    /// Events not taken yet, in order: the first apart, so that a read that yields one event (the
    /// common case) allocates no array for it.
    @exclusivity(unchecked) var firstEvent: PendingEvent?
    @exclusivity(unchecked) var laterEvents: [PendingEvent] = []
    /// Of `laterEvents`, how many were taken already.
    @exclusivity(unchecked) var laterEventsTaken = 0

    // Sending. Control frames (pings, pongs) are kept apart so a caller with a deep queue of data can
    // put them first; a close frame is data, because it must follow every message sent before it.
    @exclusivity(unchecked) var controlOutput: [UInt8] = []
    @exclusivity(unchecked) var dataOutput: [UInt8] = []
    @exclusivity(unchecked) var endOfStreamPending = false
    @exclusivity(unchecked) var endOfStreamSent = false
    @exclusivity(unchecked) var sendingFragmentedMessage = false
    /// A close frame we owe and queue when the output is next taken, after the caller has answered
    /// the messages that came before it: the reply to the peer's close, or the close that reports
    /// a fault found while receiving.
    @exclusivity(unchecked) var owedClose: OwedClose?
    /// The caller asked to send something before the close reply (`holdCloseReply`).
    @exclusivity(unchecked) var closeReplyHeld = false

    public init(side: Side, configuration: Configuration = .init(), extensions: [any Extension] = [],
                log: LogSink? = nil) {
        self.side = side
        self.configuration = configuration
        self.extensions = extensions
        self.allowedReservedBits = extensions.reduce(into: []) { $0.formUnion($1.reservedBits) }
        self.log = log
    }

    /// The code of the close frame received, if any; 1005 when it carried none.
    public var closeCode: CloseCode? {
        guard let received = self.closeReceived else { return nil }
        return received.code ?? .noStatusReceived
    }

    /// The reason of the close frame received, if any.
    public var closeReason: String? { self.closeReceived?.reason }

    /// Whether the caller should expect the TCP connection to end soon and arm a timer for it.
    ///
    /// True once a close frame has been sent or received: a peer that never finishes the closing
    /// handshake must be dropped after a timeout (RFC 6455 §7.1.1).
    public var closeExpected: Bool { self.state != .open }

    /// Returns the events parsed since the last call, in order.
    public func takeEvents() -> [Event] {
        var events: [Event] = []
        while let event = self.nextEvent() { events.append(event) }
        return events
    }

    /// Returns the next event not taken yet, oldest first: `takeEvents` one at a time, without an array.
    public func nextEvent() -> Event? {
        switch self.nextPendingEvent() {
        case nil: return nil
        case .event(let event): return event
        case .lent(let opcode, let bytes):
            return opcode == .text ? .text(String(decoding: bytes, as: UTF8.self)) : .binary(Array(bytes))
        }
    }

    /// `nextEvent`, with a data message that came whole in the caller's buffer lent, not copied.
    public func nextLentEvent() -> LentEvent? {
        switch self.nextPendingEvent() {
        case nil: return nil
        case .event(let event): return .other(event)
        case .lent(let opcode, let bytes): return opcode == .text ? .text(bytes) : .binary(bytes)
        }
    }

    private func nextPendingEvent() -> PendingEvent? {
        if let event = self.firstEvent {
            self.firstEvent = nil
            return event
        }
        guard self.laterEventsTaken < self.laterEvents.count else { return nil }
        let event = self.laterEvents[self.laterEventsTaken]
        self.laterEventsTaken += 1
        if self.laterEventsTaken == self.laterEvents.count {
            self.laterEvents = []
            self.laterEventsTaken = 0
        }
        return event
    }

    func emit(_ event: Event) {
        self.emit(pending: .event(event))
    }

    func emit(pending event: PendingEvent) {
        if self.firstEvent == nil && self.laterEvents.isEmpty {
            self.firstEvent = event
        } else {
            self.laterEvents.append(event)
        }
    }

    /// Returns what to write to the socket since the last call: control frames first, then data, then
    /// `.endOfStream` when the TCP connection should be closed. This is also when the reply to a close
    /// frame received from the peer is queued, after whatever was sent while handling the events.
    public func takeOutput() -> [Output] {
        let pending = self.takePendingOutput()
        var outputs: [Output] = []
        if !pending.control.isEmpty { outputs.append(.bytes(pending.control)) }
        if !pending.data.isEmpty { outputs.append(.bytes(pending.data)) }
        if pending.endOfStream { outputs.append(.endOfStream) }
        return outputs
    }

    /// Moves out the pending output, control frames apart from data, for callers with their own queue.
    ///
    /// Control frames may be written before data queued earlier, but only at a frame boundary.
    public func takePendingOutput() -> (control: [UInt8], data: [UInt8], endOfStream: Bool) {
        self.sendOwedClose()
        let control = self.controlOutput
        let data = self.dataOutput
        if !control.isEmpty { self.controlOutput = [] }
        if !data.isEmpty { self.dataOutput = [] }
        let endOfStream = self.endOfStreamPending
        if endOfStream {
            self.endOfStreamPending = false
            self.endOfStreamSent = true
        }
        return (control, data, endOfStream)
    }

    /// `takePendingOutput` for a caller that recycles the arrays it has written: `spare`, an empty
    /// array whose memory is the caller's alone, becomes the buffer the next frames are encoded into
    /// (and `spare` is left empty), so sending a small message allocates nothing.
    public func takePendingOutput(recycling spare: inout [UInt8]) -> (control: [UInt8], data: [UInt8], endOfStream: Bool) {
        let output = self.takePendingOutput()
        if self.dataOutput.capacity == 0 && spare.isEmpty && spare.capacity > 0 {
            swap(&self.dataOutput, &spare)
        }
        return output
    }

    /// Whether `takeOutput` would return anything.
    public var hasPendingOutput: Bool {
        !self.controlOutput.isEmpty || !self.dataOutput.isEmpty || self.endOfStreamPending
            || (self.owedClose != nil && !self.closeReplyHeld)
    }

    /// Whether data messages may be sent: the connection is open, or it is closing but the close
    /// frame we owe (the reply to the peer's close, or the one reporting a fault in what the peer
    /// sent) is not queued yet, so the answers to the messages before it may still go.
    public var canSendData: Bool { self.state == .open || self.owedClose != nil }

    func setState(_ state: State) {
        self.log?.debug("= state \(state)")
        self.state = state
    }
}

extension Connection.State: CustomStringConvertible {
    public var description: String {
        switch self {
        case .open: "OPEN"
        case .closing: "CLOSING"
        case .closed: "CLOSED"
        }
    }
}

/// An event not taken yet; see `Connection.LentEvent`.
enum PendingEvent {
    case event(Connection.Event)
    /// A whole data message, still in the caller's buffer.
    case lent(Opcode, UnsafeRawBufferPointer)
}

/// A close frame the connection owes; see `Connection.owedClose`.
enum OwedClose {
    /// The reply to the peer's close frame: its payload, echoed.
    case reply([UInt8])
    /// The close that fails the connection for a fault in what the peer sent.
    case failure(ProtocolViolation)
}
