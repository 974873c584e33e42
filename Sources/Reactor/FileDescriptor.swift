import CGlibc
import Glibc

/// A file descriptor: a handle, not an owner.
///
/// Copies name the same descriptor; closing one closes them all. Owners (`Socket`,
/// `Pipe.End`, `ChildProcess`) are classes with an explicit `close()`. All I/O here is meant
/// for non-blocking descriptors: EAGAIN comes back as `.wouldBlock`.
public struct FileDescriptor: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    public let rawValue: CInt

    @inlinable
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// Descriptor 0.
    public static let standardInput = FileDescriptor(rawValue: STDIN_FILENO)
    /// Descriptor 1.
    public static let standardOutput = FileDescriptor(rawValue: STDOUT_FILENO)
    /// Descriptor 2.
    public static let standardError = FileDescriptor(rawValue: STDERR_FILENO)

    public var description: String {
        "fd \(self.rawValue)"
    }

    /// Reads at most `buffer.count` bytes.
    /// - Returns: `.processed(0)` at end of file, `.wouldBlock` when nothing is available.
    /// - Throws: `SystemError` ("read: ECONNRESET: …").
    ///
    /// The corresponding C function is `read(2)`.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingCall("read") { Glibc.read(self.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes at most `buffer.count` bytes; a short count is normal when the kernel buffer fills.
    ///
    /// On a socket prefer `Socket.write`, which sends with MSG_NOSIGNAL; here a closed reader
    /// raises SIGPIPE unless it is ignored (`EventLoop.init` ignores it).
    /// - Throws: `SystemError` ("write: EPIPE: …").
    ///
    /// The corresponding C function is `write(2)`.
    @inlinable
    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingCall("write") { Glibc.write(self.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes the buffers in order with one call, at most `IOV_MAX` (1024) of them.
    /// - Returns: the number of bytes written, possibly ending in the middle of a buffer.
    ///
    /// The corresponding C function is `writev(2)`.
    @inlinable
    public func writev(_ buffers: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        try nonBlockingCall("writev") {
            Glibc.writev(self.rawValue, buffers.baseAddress, CInt(truncatingIfNeeded: buffers.count))
        }
    }

    /// Closes the descriptor.
    ///
    /// EINTR is not retried: on Linux the descriptor is released even then, and a retry
    /// could close a descriptor another thread has just been given.
    /// The corresponding C function is `close(2)`.
    public func close() throws(SystemError) {
        if Glibc.close(self.rawValue) == -1 {
            let error = Errno(rawValue: errno)
            precondition(error != .badFileDescriptor, "close: EBADF: \(self) was already closed")
            guard error == .interrupted else { throw SystemError(call: "close", errno: error) }
        }
    }

    /// Turns O_NONBLOCK on or off.
    /// The corresponding C function is `fcntl(2)` (F_GETFL, F_SETFL).
    public func setNonBlocking(_ on: Bool = true) throws(SystemError) {
        let flags = try systemCall("fcntl") { wsgate_fcntl(self.rawValue, F_GETFL, 0) }
        let updated = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if updated != flags {
            _ = try systemCall("fcntl") { wsgate_fcntl(self.rawValue, F_SETFL, updated) }
        }
    }

    /// Whether O_NONBLOCK is set. The corresponding C function is `fcntl(2)` (F_GETFL).
    public func isNonBlocking() throws(SystemError) -> Bool {
        try systemCall("fcntl") { wsgate_fcntl(self.rawValue, F_GETFL, 0) } & O_NONBLOCK != 0
    }

    /// Turns FD_CLOEXEC on or off.
    /// The corresponding C function is `fcntl(2)` (F_GETFD, F_SETFD).
    public func setCloseOnExec(_ on: Bool = true) throws(SystemError) {
        let flags = try systemCall("fcntl") { wsgate_fcntl(self.rawValue, F_GETFD, 0) }
        let updated = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        if updated != flags {
            _ = try systemCall("fcntl") { wsgate_fcntl(self.rawValue, F_SETFD, updated) }
        }
    }

    /// Whether FD_CLOEXEC is set. The corresponding C function is `fcntl(2)` (F_GETFD).
    public func isCloseOnExec() throws(SystemError) -> Bool {
        try systemCall("fcntl") { wsgate_fcntl(self.rawValue, F_GETFD, 0) } & FD_CLOEXEC != 0
    }
}

extension FileDescriptor {
    /// Writes as much of `bytes` as the descriptor takes now.
    /// The corresponding C function is `write(2)`.
    @inlinable
    public func write(_ bytes: some ContiguousBytes) throws(SystemError) -> IOResult<Int> {
        let result: Result<IOResult<Int>, SystemError> = bytes.withUnsafeBytes { buffer in
            do throws(SystemError) {
                return .success(try self.write(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// Contiguous bytes whose storage can be lent out for a system call.
///
/// The standard library has no such protocol; this covers `[UInt8]`, `ArraySlice<UInt8>`,
/// `ContiguousArray<UInt8>` and buffer pointers without Foundation.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension ContiguousArray: ContiguousBytes where Element == UInt8 {}
extension UnsafeRawBufferPointer: ContiguousBytes {
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(self)
    }
}
