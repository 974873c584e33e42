/// Which of a connection's two output queues a frame goes to.
enum OutputQueue {
    /// Pings and pongs, which may overtake queued data at a frame boundary.
    case control
    /// Messages and the close frame, in order.
    case data
}

extension Connection {
    /// Queues a text message, or its first fragment when `fin` is false.
    public func send(text: String, fin: Bool = true) throws(ConnectionStateError) {
        try self.withBytes(text.utf8) { bytes throws(ConnectionStateError) in
            try self.sendData(.text, bytes, fin: fin)
        }
    }

    /// Queues a text message whose bytes the caller vouches are UTF-8 (they are not checked again).
    public func send(textUTF8 bytes: UnsafeRawBufferPointer, fin: Bool = true) throws(ConnectionStateError) {
        try self.sendData(.text, bytes, fin: fin)
    }

    /// Queues a binary message, or its first fragment when `fin` is false.
    public func send(binary: some Collection<UInt8>, fin: Bool = true) throws(ConnectionStateError) {
        try self.withBytes(binary) { bytes throws(ConnectionStateError) in
            try self.sendData(.binary, bytes, fin: fin)
        }
    }

    /// Queues a binary message from bytes the caller lends (copied once, into the frame).
    public func send(binaryBytes bytes: UnsafeRawBufferPointer, fin: Bool = true) throws(ConnectionStateError) {
        try self.sendData(.binary, bytes, fin: fin)
    }

    /// Queues the next fragment of a message started with `fin: false`.
    public func send(continuation: some Collection<UInt8>, fin: Bool) throws(ConnectionStateError) {
        try self.withBytes(continuation) { bytes throws(ConnectionStateError) in
            try self.sendData(.continuation, bytes, fin: fin)
        }
    }

    /// For a caller with a send queue of its own: sends a whole binary message of `count` bytes the
    /// way `send(binary:)` does, but returns its frame header instead of queuing the frame, so that
    /// the caller writes the header and then the payload from where it already is (no copy of a
    /// large message into a frame).
    ///
    /// Returns nil, having sent nothing, when the payload cannot go as it is or not yet: the client
    /// side masks it, an extension encodes it, or output is pending (take it first, it goes before);
    /// then use `send(binary:)`. Only while the connection is open: a close frame owed to the peer
    /// must follow the replies, which only `send` orders.
    public func frameHeader(forUnqueuedBinary count: Int) throws(ConnectionStateError) -> [UInt8]? {
        try self.frameHeader(forUnqueued: .binary, count: count)
    }

    /// `frameHeader(forUnqueuedBinary:)` for a text message too, whose bytes the caller vouches are UTF-8.
    public func frameHeader(forUnqueued opcode: Opcode, count: Int) throws(ConnectionStateError) -> [UInt8]? {
        precondition(opcode == .text || opcode == .binary, "a whole data message")
        guard self.state == .open else { throw ConnectionStateError(operation: "send \(opcode)", state: self.state) }
        guard !self.sendingFragmentedMessage else {
            throw ConnectionStateError(operation: "start a message inside a fragmented message", state: self.state)
        }
        guard self.side == .server, self.extensions.isEmpty, self.dataOutput.isEmpty, self.owedClose == nil else {
            return nil
        }
        self.log?.debug("> \(opcode) [\(count) bytes]")
        var header: [UInt8] = []
        header.reserveCapacity(FrameEncoder.headerSize(payloadLength: count, masked: false))
        FrameEncoder.appendHeader(opcode: opcode, length: count, masked: false, to: &header)
        return header
    }

    /// Queues a ping. RFC 6455 §5.5: control payloads are at most 125 bytes.
    public func sendPing(_ payload: [UInt8] = []) throws(ConnectionStateError) {
        try self.sendControl(.ping, payload)
    }

    /// Queues an unsolicited pong (a unidirectional heartbeat, RFC 6455 §5.5.3).
    public func sendPong(_ payload: [UInt8] = []) throws(ConnectionStateError) {
        try self.sendControl(.pong, payload)
    }

    func sendData(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, fin: Bool) throws(ConnectionStateError) {
        guard self.canSendData else { throw ConnectionStateError(operation: "send \(opcode)", state: self.state) }
        // RFC 6455 §5.4: the fragments of one message are not interleaved with other messages.
        guard (opcode == .continuation) == self.sendingFragmentedMessage else {
            let operation = opcode == .continuation ? "send a continuation outside a fragmented message"
                : "start a message inside a fragmented message"
            throw ConnectionStateError(operation: operation, state: self.state)
        }
        self.sendingFragmentedMessage = !fin
        if fin && opcode != .continuation && !self.extensions.isEmpty {
            var message = Array(payload)
            var reservedBits: Frame.ReservedBits = []
            for ext in self.extensions {
                let encoded = ext.encode(message: message, opcode: opcode)
                message = encoded.payload
                reservedBits.formUnion(encoded.reservedBits)
            }
            message.withUnsafeBytes { self.appendFrame(opcode, $0, reservedBits: reservedBits, to: .data) }
            return
        }
        self.appendFrame(opcode, payload, fin: fin, to: .data)
    }

    func sendControl(_ opcode: Opcode, _ payload: [UInt8]) throws(ConnectionStateError) {
        guard self.state == .open else { throw ConnectionStateError(operation: "send \(opcode)", state: self.state) }
        guard payload.count <= 125 else {
            throw ConnectionStateError(operation: "send a \(payload.count)-byte \(opcode) (125 at most)",
                                       state: self.state)
        }
        payload.withUnsafeBytes { self.appendFrame(opcode, $0, to: .control) }
    }

    /// Encodes one frame onto an output queue, masked on the client side.
    func appendFrame(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, fin: Bool = true,
                     reservedBits: Frame.ReservedBits = [], to queue: OutputQueue) {
        // RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client", and a client
        // "MUST mask all frames that it sends to the server".
        let mask = self.side == .client ? self.configuration.maskingKeys.next() : nil
        self.log?.debug({
            let shown = reservedBits.isEmpty ? describePayload(opcode, payload)
                : "[\(payload.count) bytes, encoded by an extension]"
            return "> \(opcode) \(shown)\(fin ? "" : " fin=false")"
        }())
        // Direct stored-property access: appending through a key path would copy the whole queue each time.
        switch queue {
        case .control:
            FrameEncoder.append(opcode: opcode, fin: fin, reservedBits: reservedBits, payload: payload, mask: mask,
                                to: &self.controlOutput)
        case .data:
            FrameEncoder.append(opcode: opcode, fin: fin, reservedBits: reservedBits, payload: payload, mask: mask,
                                to: &self.dataOutput)
        }
    }

    func withBytes<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) throws(ConnectionStateError) -> R)
        throws(ConnectionStateError) -> R
    {
        let result: Result<R, ConnectionStateError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(ConnectionStateError) in try body(UnsafeRawBufferPointer(buffer)) }
        }
        if let result { return try result.get() }
        let copied = Array(bytes).withUnsafeBytes { buffer in
            Result { () throws(ConnectionStateError) in try body(buffer) }
        }
        return try copied.get()
    }
}
