import Glibc

/// A regular file opened for reading, that owns its descriptor: what a static file is served from.
///
/// Opening never blocks and never follows a final symbolic link: the path is opened with
/// O_NONBLOCK (a FIFO planted under the served directory would otherwise hang the loop in
/// `open(2)`) and O_NOFOLLOW, then checked with `fstat(2)`, so what was checked is what is read.
/// Anything but a regular file is refused with EISDIR or EINVAL and closed at once.
public final class RegularFile {
    /// What `fstat(2)` said when the file was opened.
    public struct Status: Equatable, Sendable {
        public var size: Int64
        /// The modification time, seconds and nanoseconds since the Unix epoch.
        public var modifiedSeconds: Int64
        public var modifiedNanoseconds: Int64
    }

    public let fd: FileDescriptor
    public let status: Status
    public private(set) var isClosed = false

    /// Opens `path` read-only.
    /// - Throws: `SystemError` from `open(2)` (ENOENT, EACCES, ELOOP for a final symbolic link),
    ///   or EISDIR / EINVAL when `path` is a directory or not a regular file.
    ///
    /// The corresponding C functions are `open(2)` and `fstat(2)`.
    public init(openingForReading path: String) throws(SystemError) {
        let raw = try systemCall("open") { Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW) }
        var info = stat()
        if fstat(raw, &info) == -1 {
            let error = Errno(rawValue: errno)
            Glibc.close(raw)
            throw SystemError(call: "fstat", errno: error)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(raw)
            let kind = info.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL
            throw SystemError(call: "open", errno: Errno(rawValue: kind))
        }
        self.fd = FileDescriptor(rawValue: raw)
        self.status = Status(size: Int64(info.st_size), modifiedSeconds: Int64(info.st_mtim.tv_sec),
                             modifiedNanoseconds: Int64(info.st_mtim.tv_nsec))
    }

    deinit {
        assert(self.isClosed, "RegularFile \(self.fd) was never closed")
    }

    /// Reads at most `buffer.count` bytes from `offset`, without moving a file position (so the
    /// same file can be read for two ranges at once). `0` is the end of the file.
    ///
    /// The corresponding C function is `pread(2)`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SystemError) -> Int {
        try systemCall("pread") { Glibc.pread(self.fd.rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    public func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        try? self.fd.close()
    }
}

extension Socket {
    /// Sends up to `count` bytes of `file` from `offset` straight from the page cache, without
    /// copying them through user space: how large static files go out.
    /// - Returns: the bytes sent (0 when `offset` is at or past the end of the file), or
    ///   `.wouldBlock` when the socket's buffer is full.
    ///
    /// The corresponding C function is `sendfile(2)`.
    public func sendFile(_ file: RegularFile, from offset: Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        var position = off_t(offset)
        return try nonBlockingCall("sendfile") { Glibc.sendfile(self.fd.rawValue, file.fd.rawValue, &position, count) }
    }
}
