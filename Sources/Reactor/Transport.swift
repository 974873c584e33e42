/// What a connection reads from and writes to: the socket itself, or a protocol over it (TLS).
///
/// The owner reads and writes plaintext and asks the transport which readiness to wait for, since
/// a transport may need the socket *readable* before it can write (a TLS handshake in progress) or
/// *writable* with nothing queued (records it produced itself: a handshake reply, close_notify).
/// A transport never blocks and never spins: when it cannot go on it says which readiness it
/// waits for, through `interest(reading:writing:)`.
public protocol Transport: AnyObject {
    /// The socket underneath, for registration with the loop.
    var socket: Socket { get }

    /// Reads plaintext. `.processed(0)` is the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult<Int>

    /// Writes plaintext from `chunks`, the first without its first `offset` bytes.
    /// - Returns: the plaintext bytes taken, which a transport may still hold (bounded) until the
    ///   socket takes them; `.wouldBlock` when it can take nothing now.
    func write(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int) throws(TransportError) -> IOResult<Int>

    /// Writes what the transport holds itself (records, close_notify), as far as the socket takes it.
    func flushPendingOutput() throws(TransportError)

    /// Bytes the transport holds for the socket.
    var hasPendingOutput: Bool { get }

    /// Input the transport has read from the socket but not returned yet. The socket will not
    /// report it readable again, so the owner must come back for it by itself.
    var hasBufferedInput: Bool { get }

    /// The readiness to wait for, given whether the owner wants to read and has bytes to write.
    func interest(reading: Bool, writing: Bool) -> Interest

    /// Ends the stream in the write direction once everything held is written.
    func shutdownWrite() throws(TransportError)

    /// Releases the transport and closes the socket.
    func close()

    /// Sends up to `count` bytes of `file` from `offset` with `sendfile(2)`, or returns nil when
    /// this transport cannot: TLS encrypts in user space, so its owner reads the file in bounded
    /// chunks and writes them instead.
    func sendFile(_ file: RegularFile, from offset: Int64, count: Int) throws(TransportError) -> IOResult<Int>?
}

extension Transport {
    public func sendFile(_ file: RegularFile, from offset: Int64, count: Int) throws(TransportError) -> IOResult<Int>? {
        nil
    }
}

/// Why a transport failed: a system call, or the peer breaking the transport's protocol.
public enum TransportError: Error, CustomStringConvertible {
    case system(SystemError)
    /// The peer sent what the protocol forbids, or the protocol refused it (a TLS alert, a bad
    /// certificate, plain HTTP on a TLS port). The text is for logs.
    case refused(String)

    public var description: String {
        switch self {
        case .system(let error): "\(error)"
        case .refused(let reason): reason
        }
    }

    /// A short name for logs: the errno's name, or "tls".
    public var name: String {
        switch self {
        case .system(let error): error.errno.name
        case .refused: "protocol"
        }
    }
}

/// The socket as it is: plaintext straight through.
public final class PlainTransport: Transport {
    public let socket: Socket

    public init(_ socket: Socket) {
        self.socket = socket
    }

    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult<Int> {
        do { return try self.socket.read(into: buffer) } catch { throw .system(error) }
    }

    @inline(__always)
    public func write(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int) throws(TransportError) -> IOResult<Int> {
        do { return try self.socket.writev(chunks, skippingFirst: offset) } catch { throw .system(error) }
    }

    public func flushPendingOutput() throws(TransportError) {}

    public var hasPendingOutput: Bool { false }

    public var hasBufferedInput: Bool { false }

    public func interest(reading: Bool, writing: Bool) -> Interest {
        // Not reading, the peer's leaving is still watched for.
        var interest: Interest = reading ? .readable : .hangup
        if writing { interest.insert(.writable) }
        return interest
    }

    public func shutdownWrite() throws(TransportError) {
        do { try self.socket.shutdownWrite() } catch { throw .system(error) }
    }

    public func close() {
        if !self.socket.isClosed { self.socket.close() }
    }

    public func sendFile(_ file: RegularFile, from offset: Int64, count: Int) throws(TransportError) -> IOResult<Int>? {
        do { return try self.socket.sendFile(file, from: offset, count: count) } catch { throw .system(error) }
    }
}
