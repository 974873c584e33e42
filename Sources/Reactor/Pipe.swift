import CGlibc
import Glibc

/// A unidirectional pipe whose two ends are owned separately.
///
/// Both ends are close-on-exec, so a child only gets the end `ChildProcess.spawn` installs as
/// its stdin, stdout or stderr.
public struct Pipe {
    /// The end data comes out of.
    public let readEnd: Pipe.End
    /// The end data goes into.
    public let writeEnd: Pipe.End

    /// Creates a pipe, both ends non-blocking unless `nonBlocking` is false.
    /// The corresponding C function is `pipe2(2)`.
    public init(nonBlocking: Bool = true) throws(SystemError) {
        var fds: (CInt, CInt) = (-1, -1)
        let flags = O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)
        _ = try withUnsafeMutableBytes(of: &fds) { (raw) throws(SystemError) -> CInt in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: CInt.self)
            return try systemCall("pipe2") { wsgate_pipe2(pointer, flags) }
        }
        self.readEnd = End(taking: FileDescriptor(rawValue: fds.0))
        self.writeEnd = End(taking: FileDescriptor(rawValue: fds.1))
    }

    /// One end of a pipe, or the master side of a pseudo-terminal (`ChildProcess.terminal`);
    /// owns its descriptor. Close it explicitly, after deregistering it.
    ///
    /// A terminal master carries both directions on one descriptor, so it is registered with
    /// the loop once, for the union of the interests.
    public final class End {
        /// The descriptor, for `EventLoop.register`. Invalid once `close()` has run.
        public let fd: FileDescriptor
        /// Whether `close()` has run.
        public private(set) var isClosed = false
        /// Whether `fd` is a pseudo-terminal master, whose end of stream is EIO (see `read`).
        @usableFromInline
        let isTerminalMaster: Bool

        /// Takes ownership of an open descriptor.
        public init(taking fd: FileDescriptor) {
            self.fd = fd
            self.isTerminalMaster = false
        }

        /// Takes ownership of an open pseudo-terminal master.
        init(takingTerminalMaster fd: FileDescriptor) {
            self.fd = fd
            self.isTerminalMaster = true
        }

        deinit {
            assert(self.isClosed, "Pipe.End \(self.fd) was never closed")
        }

        /// Reads at most `buffer.count` bytes; `.processed(0)` once every writer has closed.
        ///
        /// On a terminal master, Linux has no end of file: once every descriptor of the slave
        /// is closed (the program and whatever inherited its terminal have exited) and the
        /// output still buffered has been read, read(2) fails with EIO. That is reported as
        /// `.processed(0)` here, so an owner ends a terminal's stream as it ends a pipe's.
        /// The check sits on the error path only; reading a pipe costs what it did.
        ///
        /// The corresponding C function is `read(2)`.
        @inlinable
        public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
            do {
                return try self.fd.read(into: buffer)
            } catch where self.isTerminalMaster && error.errno == .inputOutput {
                return .processed(0)
            }
        }

        /// Writes at most `buffer.count` bytes; on a pipe, up to PIPE_BUF (4096) bytes go in
        /// atomically. A terminal master reports no error once the program has gone: the first
        /// few KiB are accepted and dropped, then writes stay `.wouldBlock`. Learn of the end
        /// from `read` or the exit watcher instead.
        /// - Throws: `SystemError` with EPIPE once a pipe's reader has closed.
        ///
        /// The corresponding C function is `write(2)`.
        @inlinable
        public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
            try self.fd.write(buffer)
        }

        /// Writes the buffers in order with one call. The corresponding C function is `writev(2)`.
        @inlinable
        public func writev(_ buffers: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
            try self.fd.writev(buffers)
        }

        func markClosed() {
            self.isClosed = true
        }

        /// Closes this end; a second call does nothing. The corresponding C function is `close(2)`.
        public func close() {
            guard !self.isClosed else { return }
            self.isClosed = true
            try? self.fd.close()
        }
    }
}

@available(*, unavailable)
extension Pipe.End: Sendable {}
