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

    /// One end of a pipe; owns its descriptor. Close it explicitly, after deregistering it.
    public final class End {
        /// The descriptor, for `EventLoop.register`. Invalid once `close()` has run.
        public let fd: FileDescriptor
        /// Whether `close()` has run.
        public private(set) var isClosed = false

        /// Takes ownership of an open descriptor.
        public init(taking fd: FileDescriptor) {
            self.fd = fd
        }

        deinit {
            assert(self.isClosed, "Pipe.End \(self.fd) was never closed")
        }

        /// Reads at most `buffer.count` bytes; `.processed(0)` once every writer has closed.
        /// The corresponding C function is `read(2)`.
        @inlinable
        public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
            try self.fd.read(into: buffer)
        }

        /// Writes at most `buffer.count` bytes; up to PIPE_BUF (4096) bytes go in atomically.
        /// - Throws: `SystemError` with EPIPE once the reader has closed.
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
