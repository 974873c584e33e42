import Reactor

/// TLS over a non-blocking socket, for the epoll loop: a `TLSConnection` fed from the socket.
///
/// Plaintext to send is taken a batch at a time: the chunks the owner queued (whole frames) are
/// gathered into one buffer and encrypted with one `SSL_write`, so small frames share records as
/// they share a `writev` on the plain path. No more is encrypted while records from the last batch
/// wait for the socket, which bounds what the transport holds to about one batch, and keeps a
/// record that cannot be written in the send path rather than dropped or re-encrypted.
///
/// Readiness: records waiting need *writable*; a handshake in progress, or a write that OpenSSL
/// says needs the peer's next message first, needs *readable*, whether or not the owner is reading;
/// a write that needs input never asks for *writable*, so it cannot spin.
public final class TLSTransport: Transport {
    /// Scratch memory the transports of one loop share: reads and gathers finish before the next
    /// transport runs, so idle connections hold none of it.
    public final class Buffers {
        let ciphertext: UnsafeMutableRawBufferPointer
        let gather: UnsafeMutableRawBufferPointer

        public init(size: Int = 64 * 1024) {
            self.ciphertext = .allocate(byteCount: size, alignment: 16)
            self.gather = .allocate(byteCount: size, alignment: 16)
        }

        deinit {
            self.ciphertext.deallocate()
            self.gather.deallocate()
        }
    }

    /// The largest plaintext one `write` encrypts from a single large chunk.
    static let maxBatch = 256 * 1024

    public let socket: Socket
    public let connection: TLSConnection
    private let buffers: Buffers
    /// `SSL_write` asked for input (the handshake is not done): wait for readable, not writable.
    private var writeNeedsInput = false
    /// `shutdownWrite` was asked for while records were waiting: shut the socket once they are out.
    private var shutdownPending = false
    private var shutDown = false

    public init(socket: Socket, connection: TLSConnection, buffers: Buffers) {
        self.socket = socket
        self.connection = connection
        self.buffers = buffers
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult<Int> {
        while true {
            switch self.connection.read(into: buffer) {
            case .bytes(let count):
                // The shared ciphertext buffer is about to serve another connection.
                self.connection.keepInput()
                return .processed(count)
            case .closed:
                return .processed(0)
            case .failed(let reason):
                throw .refused(reason)
            case .wantsInput:
                break
            }
            let result: IOResult<Int>
            do { result = try self.socket.read(into: self.buffers.ciphertext) } catch { throw .system(error) }
            guard case .processed(let count) = result else { return .wouldBlock }
            // The end of the TCP stream without close_notify ends the plaintext stream too: the
            // WebSocket close handshake, not TLS, says whether the peer meant to stop there.
            if count == 0 { return .processed(0) }
            self.writeNeedsInput = false
            self.connection.setInput(UnsafeRawBufferPointer(rebasing: self.buffers.ciphertext[0..<count]))
        }
    }

    public func write(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int) throws(TransportError) -> IOResult<Int> {
        try self.flushPendingOutput()
        if self.connection.hasPendingOutput || self.writeNeedsInput || chunks.isEmpty { return .wouldBlock }
        let first = chunks[chunks.startIndex]
        let result: TLSConnection.Result
        if chunks.count == 1 || first.count - offset >= self.buffers.gather.count {
            let length = min(first.count - offset, Self.maxBatch)
            result = first.withUnsafeBytes { self.connection.write(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }
        } else {
            let gather = self.buffers.gather
            var filled = 0
            var skip = offset
            for chunk in chunks {
                let length = min(chunk.count - skip, gather.count - filled)
                chunk.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: gather[filled..<filled + length])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[skip..<skip + length]))
                }
                filled += length
                skip = 0
                if filled == gather.count { break }
            }
            result = self.connection.write(UnsafeRawBufferPointer(rebasing: gather[0..<filled]))
        }
        switch result {
        case .bytes(let count):
            try self.flushPendingOutput()
            return .processed(count)
        case .wantsInput:
            self.writeNeedsInput = true
            try self.flushPendingOutput()
            return .wouldBlock
        case .closed:
            throw .refused("TLS connection closed")
        case .failed(let reason):
            throw .refused(reason)
        }
    }

    public func flushPendingOutput() throws(TransportError) {
        while self.connection.hasPendingOutput {
            let result: IOResult<Int>
            do { result = try self.socket.write(self.connection.pendingOutput) } catch { throw .system(error) }
            guard case .processed(let count) = result, count > 0 else { return }
            self.connection.consumeOutput(count)
        }
        if self.shutdownPending {
            self.shutdownPending = false
            self.shutDown = true
            do { try self.socket.shutdownWrite() } catch { throw .system(error) }
        }
    }

    public var hasPendingOutput: Bool { self.connection.hasPendingOutput }

    public var hasBufferedInput: Bool { self.connection.hasBufferedInput }

    public func interest(reading: Bool, writing: Bool) -> Interest {
        let needsInput = reading || self.writeNeedsInput || !self.connection.isEstablished
        var interest: Interest = needsInput ? .readable : .hangup
        if self.connection.hasPendingOutput || (writing && !self.writeNeedsInput) { interest.insert(.writable) }
        return interest
    }

    /// Queues close_notify behind the records already queued, then ends the TCP stream once they are written.
    public func shutdownWrite() throws(TransportError) {
        guard !self.shutDown && !self.shutdownPending else { return }
        self.connection.shutdown()
        self.shutdownPending = true
        try self.flushPendingOutput()
    }

    public func close() {
        if !self.socket.isClosed { self.socket.close() }
    }
}
