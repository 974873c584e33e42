/// The fields of a frame header that matter after parsing (RFC 6455 §5.2).
struct FrameHeader {
    var fin: Bool
    var reservedBits: Frame.ReservedBits
    var opcode: Opcode
    var mask: MaskingKey?
    var length: Int
}

/// Where the frame parser is. Cases carry only what is valid in that state.
enum ParserState {
    case header
    case payload(FrameHeader, remaining: Int, maskOffset: Int)
    /// After a close frame was received or the connection failed: every further byte is dropped
    /// (RFC 6455 §1.4: "a peer discards any further data received").
    case discard
}

/// A data message being assembled from frames that arrived in pieces.
struct MessageInProgress {
    var opcode: Opcode
    var reservedBits: Frame.ReservedBits
    var bytes: [UInt8] = []
    /// Validates text as it arrives; nil for binary, and for text that an extension must decode first.
    var validator: UTF8Validator?
}

extension Connection {
    /// From this size a binary message whole in the buffer is copied out, unmasked on the way, rather than lent.
    static let copiedBinarySize = 4096

    /// Feeds bytes read from the socket.
    ///
    /// Parses as far as the bytes go and queues the resulting events and output. Frames split anywhere
    /// across calls are reassembled; only an incomplete frame header (at most 13 bytes) is kept between
    /// calls, since payloads are streamed into the message as they arrive.
    public func receive(_ bytes: some Collection<UInt8>) {
        var copy = Array(bytes)
        copy.withUnsafeMutableBytes { self.receive(mutating: $0) }
    }

    /// Feeds bytes read from the socket, unmasking them in place: the fast path for callers that read
    /// into a scratch buffer of their own and can let the connection scribble on it.
    ///
    /// With `lendingMessages`, a data message that is whole in `buffer` (one frame, not compressed)
    /// is not copied: `nextLentEvent` lends it, and it is valid until `buffer` is written again, so
    /// the caller takes every event before it reads into `buffer` next. (`nextEvent` copies it.)
    public func receive(mutating buffer: UnsafeMutableRawBufferPointer, lendingMessages: Bool) {
        guard self.state != .closed, buffer.count > 0 else { return }
        if case .discard = self.parser { return }
        var start = 0
        if !self.input.isEmpty {
            // Complete the stashed header with at most the 14 bytes a header can take, so that a large
            // read is not copied. The parser may also consume payload from that copy; that is fine.
            let stashed = self.input.count
            let taken = min(14 - stashed, buffer.count)
            self.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<taken]))
            var consumed = 0
            // Never lent: `input` is the connection's own and changes at the end of this call.
            self.input.withUnsafeMutableBytes { consumed = self.parse($0, lending: false) }
            if self.isDiscarding {
                self.input = []
                return
            }
            if consumed == stashed + taken {
                start = taken
            } else if taken == buffer.count {
                self.input.removeSubrange(0..<consumed)
                return
            } else {
                // An incomplete header starts inside the copied bytes: parse it again from the buffer.
                precondition(consumed >= stashed, "a frame header never exceeds 14 bytes")
                start = consumed - stashed
            }
            self.input.removeAll(keepingCapacity: true)
        }
        let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[start...])
        let consumed = self.parse(rest, lending: lendingMessages)
        if consumed < rest.count && !self.isDiscarding {
            self.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[consumed...]))
        }
    }

    /// Feeds bytes read from the socket, unmasking them in place: the fast path for callers that read
    /// into a scratch buffer of their own and can let the connection scribble on it.
    public func receive(mutating buffer: UnsafeMutableRawBufferPointer) {
        self.receive(mutating: buffer, lendingMessages: false)
    }

    /// Tells the connection that the peer closed the TCP connection (read returned 0).
    public func receiveEOF() {
        guard self.state != .closed else { return }
        self.log?.debug("< EOF")
        self.parser = .discard
        self.message = nil
        self.setState(.closed)
        self.sendEndOfStream()
    }

    var isDiscarding: Bool {
        if case .discard = self.parser { return true }
        return false
    }

    /// Parses frames from `buffer` and returns how many bytes it consumed; the rest is an incomplete header.
    /// `lending`: a data message whole in `buffer` may be lent (see `receive(mutating:lendingMessages:)`).
    func parse(_ buffer: UnsafeMutableRawBufferPointer, lending: Bool) -> Int {
        var index = 0
        do throws(ProtocolViolation) {
            while true {
                switch self.parser {
                case .discard:
                    return buffer.count
                case .header:
                    guard index < buffer.count else { return index }
                    guard let (header, size) = try self.parseHeader(UnsafeRawBufferPointer(rebasing: buffer[index...]))
                    else { return index }
                    index += size
                    try self.beginFrame(header)
                case .payload(let header, let remaining, let maskOffset):
                    let available = buffer.count - index
                    if remaining == header.length && available >= remaining {
                        let payload = UnsafeMutableRawBufferPointer(rebasing: buffer[index..<index + remaining])
                        if let mask = header.mask, header.opcode == .binary, remaining >= Self.copiedBinarySize,
                            header.fin, header.reservedBits.isEmpty, self.message == nil
                        {
                            // A large binary message, whole: it becomes an array anyway (a handler
                            // keeps it, or queues it behind its header), so it is unmasked as it is
                            // copied there, one pass over the bytes rather than two.
                            index += remaining
                            self.parser = .header
                            self.log?.debug("< BINARY [\(remaining) bytes]")
                            self.emit(.binary([UInt8](unsafeUninitializedCapacity: remaining) { array, count in
                                copyApplyingMask(mask, from: UnsafeRawBufferPointer(payload),
                                                 to: UnsafeMutableRawBufferPointer(array))
                                count = remaining
                            }))
                            continue
                        }
                        // The whole payload is here: unmask it in place and handle it without copying.
                        if let mask = header.mask { applyMask(mask, to: payload) }
                        index += remaining
                        self.parser = .header
                        try self.handleWholeFrame(header, UnsafeRawBufferPointer(payload), lendable: lending)
                        continue
                    }
                    let take = min(available, remaining)
                    if take > 0, let mask = header.mask, !header.opcode.isControl {
                        // A data frame's piece: unmasked as it is copied into the message.
                        let chunk = UnsafeRawBufferPointer(rebasing: buffer[index..<index + take])
                        index += take
                        self.parser = .payload(header, remaining: remaining - take,
                                               maskOffset: (maskOffset + take) & 3)
                        try self.receiveMaskedDataChunk(header, chunk, mask: mask, offset: maskOffset)
                    } else if take > 0 {
                        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[index..<index + take])
                        let nextOffset = header.mask.map { applyMask($0, to: chunk, offset: maskOffset) } ?? 0
                        index += take
                        self.parser = .payload(header, remaining: remaining - take, maskOffset: nextOffset)
                        try self.receivePayloadChunk(header, UnsafeRawBufferPointer(chunk))
                    }
                    guard remaining == take else { return index }
                    self.parser = .header
                    try self.endFrame(header)
                }
            }
        } catch {
            self.fail(error)
            return buffer.count
        }
    }

    /// Parses and validates a frame header, or returns nil when `bytes` does not hold all of it yet.
    ///
    /// Each field is checked as soon as its byte is there, so a bad frame fails before its length arrives.
    func parseHeader(_ bytes: UnsafeRawBufferPointer) throws(ProtocolViolation) -> (FrameHeader, Int)? {
        let first = bytes[0]
        let reservedBits = Frame.ReservedBits(rawValue: first)
        guard let opcode = Opcode(rawValue: first & 0x0F) else { throw .reservedOpcode(first & 0x0F) }
        let fin = first & 0x80 != 0
        // RFC 6455 §5.2: "If a nonzero value is received and none of the negotiated extensions defines
        // the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket Connection_."
        // Extensions here act on whole messages, so only the first frame of a data message may carry them.
        if !reservedBits.isEmpty {
            let firstOfMessage = opcode == .text || opcode == .binary
            guard firstOfMessage, self.allowedReservedBits.isSuperset(of: reservedBits) else {
                throw .reservedBitsSet(reservedBits)
            }
        }
        if opcode.isControl && !fin {
            // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
            // NOT be fragmented."
            throw .fragmentedControlFrame
        }
        guard bytes.count >= 2 else { return nil }
        let second = bytes[1]
        let masked = second & 0x80 != 0
        switch self.side {
        // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
        case .server where !masked: throw .unmaskedFrame
        // "A client MUST close a connection if it detects a masked frame."
        case .client where masked: throw .maskedFrame
        default: break
        }
        var length = Int(second & 0x7F)
        if opcode.isControl && length > 125 { throw .controlFrameTooLong(length) }
        var size = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            size = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            guard bytes[2] & 0x80 == 0 else { throw .lengthTooLarge }
            var wide: UInt64 = 0
            for offset in 2..<10 { wide = wide << 8 | UInt64(bytes[offset]) }
            length = Int(wide)
            size = 10
        }
        var mask: MaskingKey?
        if masked {
            guard bytes.count >= size + 4 else { return nil }
            mask = MaskingKey(bytes[size], bytes[size + 1], bytes[size + 2], bytes[size + 3])
            size += 4
        }
        return (FrameHeader(fin: fin, reservedBits: reservedBits, opcode: opcode, mask: mask, length: length), size)
    }

    /// Checks that the frame fits the message sequence and the size limit, then expects its payload.
    func beginFrame(_ header: FrameHeader) throws(ProtocolViolation) {
        self.log?.debug("< \(header.opcode) fin=\(header.fin) [\(header.length) bytes]")
        switch header.opcode {
        case .continuation:
            // RFC 6455 §5.4: a continuation frame only ever continues a fragmented message.
            guard self.message != nil else { throw .unexpectedContinuation }
        case .text, .binary:
            guard self.message == nil else { throw .expectedContinuation }
            if !header.fin {
                self.message = self.startMessage(header)
            }
        case .close, .ping, .pong:
            break
        }
        if !header.opcode.isControl {
            let limit = self.configuration.maxMessageSize
            let soFar = self.message?.bytes.count ?? 0
            let encoded = !(self.message?.reservedBits ?? header.reservedBits).isEmpty
            // An extension's encoding may be a little larger than the message (DEFLATE's stored
            // blocks add 5 bytes per 64 KiB); the decoded size is held to the limit when decoding.
            let bound = encoded ? limit + limit / 1024 + 64 : limit
            guard header.length <= bound - soFar else { throw .messageTooBig(limit: limit) }
        }
        self.parser = .payload(header, remaining: header.length, maskOffset: 0)
    }

    func startMessage(_ header: FrameHeader) -> MessageInProgress {
        let validates = header.opcode == .text && header.reservedBits.isEmpty
        return MessageInProgress(opcode: header.opcode, reservedBits: header.reservedBits,
                                 validator: validates ? UTF8Validator() : nil)
    }

    /// Handles a frame whose payload arrived whole: the common case, with no copy for control frames.
    func handleWholeFrame(_ header: FrameHeader, _ payload: UnsafeRawBufferPointer, lendable: Bool)
        throws(ProtocolViolation)
    {
        if header.opcode.isControl {
            try self.handleControlFrame(header.opcode, payload)
        } else if self.message == nil && header.fin && header.reservedBits.isEmpty {
            try self.deliverMessage(header.opcode, payload, lendable: lendable)
        } else {
            try self.receivePayloadChunk(header, payload)
            try self.endFrame(header)
        }
    }

    /// Adds part of a payload to the control frame or message being received.
    func receivePayloadChunk(_ header: FrameHeader, _ chunk: UnsafeRawBufferPointer) throws(ProtocolViolation) {
        if header.opcode.isControl {
            self.controlPayload.append(contentsOf: chunk)
            return
        }
        if self.message == nil {
            self.message = self.startMessage(header)
            self.message!.bytes.reserveCapacity(header.length)
        }
        if self.message!.validator != nil, let offset = self.message!.validator!.feed(chunk) {
            throw .invalidUTF8(at: offset)
        }
        self.message!.bytes.append(contentsOf: chunk)
    }

    /// `receivePayloadChunk` for a data frame's masked piece: unmasked while it is copied into the
    /// message (one pass over the bytes), then validated there when it is text.
    func receiveMaskedDataChunk(_ header: FrameHeader, _ chunk: UnsafeRawBufferPointer, mask: MaskingKey,
                                offset: Int) throws(ProtocolViolation) {
        var message = self.message ?? self.startMessage(header)
        self.message = nil  // moved out and back: the bytes stay uniquely referenced, never copied
        if message.bytes.isEmpty { message.bytes.reserveCapacity(header.length) }
        let start = message.bytes.count
        message.bytes.append(contentsOf: UnmaskedBytes(source: chunk, key: mask, offset: offset))
        if var validator = message.validator {
            let invalidAt = message.bytes.withUnsafeBytes { validator.feed(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            if let invalidAt { throw .invalidUTF8(at: invalidAt) }
            message.validator = validator
        }
        self.message = message
    }

    /// Finishes a frame whose payload was streamed; completes the message on its last frame.
    func endFrame(_ header: FrameHeader) throws(ProtocolViolation) {
        if header.opcode.isControl {
            defer { self.controlPayload.removeAll(keepingCapacity: true) }
            try withUnsafeBytes(of: self.controlPayload) { bytes throws(ProtocolViolation) in
                try self.handleControlFrame(header.opcode, bytes)
            }
            return
        }
        guard header.fin else { return }
        let message = self.message ?? self.startMessage(header)
        self.message = nil
        if let validator = message.validator, !validator.isComplete {
            throw .invalidUTF8(at: validator.count)
        }
        guard !message.reservedBits.isEmpty else {
            if message.opcode == .binary {
                // The assembled bytes become the event as they are: no second copy of a large message.
                self.log?.debug("< BINARY [\(message.bytes.count) bytes]")
                self.emit(.binary(message.bytes))
                return
            }
            try withUnsafeBytes(of: message.bytes) { bytes throws(ProtocolViolation) in
                try self.deliverMessage(message.opcode, bytes, validated: true)
            }
            return
        }
        var decoded = message.bytes
        for ext in self.extensions.reversed() where message.reservedBits.isSuperset(of: ext.reservedBits) {
            decoded = try ext.decode(message: decoded, reservedBits: message.reservedBits,
                                     maxSize: self.configuration.maxMessageSize)
        }
        try withUnsafeBytes(of: decoded) { bytes throws(ProtocolViolation) in
            try self.deliverMessage(message.opcode, bytes)
        }
    }

    /// Queues a complete data message as an event, validating text unless that was done on the way in.
    /// `lendable`: `payload` is in the caller's buffer and may be lent rather than copied.
    func deliverMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, validated: Bool = false,
                        lendable: Bool = false) throws(ProtocolViolation)
    {
        if opcode == .text {
            if !validated {
                var validator = UTF8Validator()
                if let offset = validator.feed(payload) { throw .invalidUTF8(at: offset) }
                if !validator.isComplete { throw .invalidUTF8(at: payload.count) }
            }
            self.log?.debug("< TEXT \(describePayload(.text, payload))")
            if lendable { return self.emit(pending: .lent(.text, payload)) }
            self.emit(.text(String(decoding: payload, as: UTF8.self)))
        } else {
            self.log?.debug("< BINARY \(describePayload(.binary, payload))")
            if lendable { return self.emit(pending: .lent(.binary, payload)) }
            self.emit(.binary(Array(payload)))
        }
    }

    func handleControlFrame(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) throws(ProtocolViolation) {
        switch opcode {
        case .ping:
            self.log?.debug("< PING \(describePayload(.ping, payload))")
            self.emit(.ping(Array(payload)))
            // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
            // response, unless it already received a Close frame." It answers "as soon as is practical",
            // hence the control queue, ahead of queued data.
            if self.configuration.autoPong && self.state == .open {
                self.appendFrame(.pong, payload, to: .control)
            }
        case .pong:
            self.log?.debug("< PONG \(describePayload(.pong, payload))")
            self.emit(.pong(Array(payload)))
        case .close:
            try self.receiveClose(payload)
        case .continuation, .text, .binary:
            preconditionFailure("data opcode \(opcode) handled as a control frame")
        }
    }
}

/// `Array.withUnsafeBytes` for a typed-throws body: the standard library's `rethrows` erases the type.
func withUnsafeBytes(of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ProtocolViolation) -> Void)
    throws(ProtocolViolation)
{
    let result = array.withUnsafeBytes { bytes in
        Result { () throws(ProtocolViolation) in try body(bytes) }
    }
    try result.get()
}
