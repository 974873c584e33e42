import CGlibc
import Glibc

/// A non-blocking, close-on-exec stream socket that owns its descriptor.
///
/// Close it explicitly, after deregistering it from its `EventLoop`; `deinit` only checks
/// (in debug builds) that this happened. Writes use MSG_NOSIGNAL, so a vanished peer is an
/// EPIPE error here, never a SIGPIPE.
public final class Socket {
    /// The descriptor, for `EventLoop.register`. Invalid once `close()` has run.
    public let fd: FileDescriptor
    /// Whether `close()` has run.
    public private(set) var isClosed = false

    /// Takes ownership of an open descriptor.
    public init(taking fd: FileDescriptor) {
        self.fd = fd
    }

    deinit {
        assert(self.isClosed, "Socket \(self.fd) was never closed")
    }

    /// Creates a stream socket for `family` (TCP, or Unix-domain for AF_UNIX).
    /// The corresponding C function is `socket(2)`.
    static func stream(family: CInt) throws(SystemError) -> Socket {
        let raw = try systemCall("socket") {
            Glibc.socket(family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        }
        return Socket(taking: FileDescriptor(rawValue: raw))
    }

    /// A listening TCP socket on `address`; port 0 picks a free port (read `localAddress`).
    ///
    /// SO_REUSEADDR is set so a restart does not wait out TIME_WAIT, and an IPv6 socket is
    /// IPV6_V6ONLY so that "0.0.0.0" and "::" can listen on the same port side by side.
    /// `reusePort` sets SO_REUSEPORT: several sockets (one per event loop) bind the same address
    /// and the kernel spreads new connections over them.
    /// - Throws: `SystemError` from `socket`, `setsockopt`, `bind` (EADDRINUSE) or `listen`.
    ///
    /// The corresponding C functions are `socket(2)`, `bind(2)` and `listen(2)`.
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool = false)
        throws(SystemError) -> Socket
    {
        let socket = try Socket.stream(family: address.family)
        do throws(SystemError) {
            if !address.isUnix {
                try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1, name: "setsockopt(SO_REUSEADDR)")
            }
            if reusePort && !address.isUnix {
                try socket.setOption(SOL_SOCKET, SO_REUSEPORT, 1, name: "setsockopt(SO_REUSEPORT)")
            }
            if address.isIPv6 {
                try socket.setOption(CInt(IPPROTO_IPV6), IPV6_V6ONLY, 1, name: "setsockopt(IPV6_V6ONLY)")
            }
            try address.withSockAddr { (pointer, length) throws(SystemError) in
                _ = try systemCall("bind") { Glibc.bind(socket.fd.rawValue, pointer, length) }
            }
            _ = try systemCall("listen") { Glibc.listen(socket.fd.rawValue, backlog) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Starts a non-blocking connection to `address`.
    /// - Returns: the socket, and whether it is already connected (loopback often is). When it
    ///   is not, register it for `.writable` and call `finishConnect()` once it is.
    /// - Throws: `SystemError` ("connect: ECONNREFUSED: …") when the kernel refuses at once.
    ///
    /// The corresponding C function is `connect(2)`.
    public static func connect(to address: SocketAddress) throws(SystemError) -> (Socket, connected: Bool) {
        let socket = try Socket.stream(family: address.family)
        let result = address.withSockAddr { pointer, length in
            Glibc.connect(socket.fd.rawValue, pointer, length)
        }
        if result == 0 {
            return (socket, true)
        }
        // Not retried on EINTR: the connection attempt continues in the background and a
        // second connect would answer EALREADY. Treat it like EINPROGRESS.
        let error = Errno(rawValue: errno)
        if error == .inProgress || error == .interrupted {
            return (socket, false)
        }
        socket.close()
        throw SystemError(call: "connect", errno: error)
    }

    /// A connected pair of Unix stream sockets, both non-blocking and close-on-exec.
    /// The corresponding C function is `socketpair(2)`.
    public static func pair() throws(SystemError) -> (Socket, Socket) {
        var fds: (CInt, CInt) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &fds) { (raw) throws(SystemError) -> CInt in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: CInt.self)
            let type = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
            return try systemCall("socketpair") { Glibc.socketpair(AF_UNIX, type, 0, pointer) }
        }
        return (Socket(taking: FileDescriptor(rawValue: fds.0)), Socket(taking: FileDescriptor(rawValue: fds.1)))
    }

    /// Completes a non-blocking connect once the socket is writable.
    /// - Throws: `SystemError(call: "connect", …)` with the connection's error (ECONNREFUSED,
    ///   ETIMEDOUT…), so it reads the same as a connect that failed at once.
    ///
    /// The corresponding C function is `getsockopt(2)` with SO_ERROR.
    public func finishConnect() throws(SystemError) {
        let error = try self.option(SOL_SOCKET, SO_ERROR, name: "getsockopt(SO_ERROR)")
        if error != 0 {
            throw SystemError(call: "connect", errno: Errno(rawValue: error))
        }
    }

    /// Takes the next pending connection.
    ///
    /// Connections that died while queued (ECONNABORTED, and the network errors Linux passes
    /// up through accept, see accept(2) NOTES) are skipped, so the caller only ever sees
    /// errors about the listener itself, such as EMFILE.
    /// - Returns: `.wouldBlock` when none is pending. The new socket is non-blocking and
    ///   close-on-exec already (no window where a spawned child could inherit it).
    /// - Throws: `SystemError` ("accept4: EMFILE: Too many open files").
    ///
    /// The corresponding C function is `accept4(2)`.
    public func accept() throws(SystemError) -> IOResult<(Socket, SocketAddress)> {
        var storage = sockaddr_storage()
        while true {
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    wsgate_accept4(self.fd.rawValue, raw, &length, CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
                }
            }
            if result == -1 {
                let error = Errno(rawValue: errno)
                if error == .wouldBlock {
                    return .wouldBlock
                }
                if error == .interrupted || Socket.acceptSkips.contains(error.rawValue) {
                    continue
                }
                precondition(error != .badFileDescriptor, "accept4: EBADF: a descriptor was used after close")
                throw SystemError(call: "accept4", errno: error)
            }
            let socket = Socket(taking: FileDescriptor(rawValue: result))
            let address = withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
            }
            guard let address else {
                socket.close()
                continue
            }
            return .processed((socket, address))
        }
    }

    /// Errors about one queued connection rather than the listener (accept(2) NOTES).
    private static let acceptSkips: [CInt] = [
        ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH,
    ]

    /// This end's address. The corresponding C function is `getsockname(2)`.
    public var localAddress: SocketAddress {
        get throws(SystemError) {
            try SocketAddress.fetch("getsockname") { Glibc.getsockname(self.fd.rawValue, $0, $1) }
        }
    }

    /// The peer's address. The corresponding C function is `getpeername(2)`.
    public var remoteAddress: SocketAddress {
        get throws(SystemError) {
            try SocketAddress.fetch("getpeername") { Glibc.getpeername(self.fd.rawValue, $0, $1) }
        }
    }

    /// Reads at most `buffer.count` bytes; `.processed(0)` is end of stream.
    /// The corresponding C function is `read(2)`.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try self.fd.read(into: buffer)
    }

    /// Sends at most `buffer.count` bytes, without raising SIGPIPE.
    /// The corresponding C function is `send(2)` with MSG_NOSIGNAL.
    @inlinable
    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingCall("send") {
            Glibc.send(self.fd.rawValue, buffer.baseAddress, buffer.count, CInt(MSG_NOSIGNAL))
        }
    }

    /// Sends the buffers in order with one call (at most `IOV_MAX`, 1024), without SIGPIPE.
    /// The corresponding C function is `sendmsg(2)` with MSG_NOSIGNAL.
    @inlinable
    public func writev(_ buffers: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        var message = msghdr()
        message.msg_iov = UnsafeMutablePointer(mutating: buffers.baseAddress)
        message.msg_iovlen = buffers.count
        return try nonBlockingCall("sendmsg") { Glibc.sendmsg(self.fd.rawValue, &message, CInt(MSG_NOSIGNAL)) }
    }

    /// Writes one buffer. The corresponding C function is `send(2)` with MSG_NOSIGNAL.
    public func send(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingCall("send") { Glibc.send(self.fd.rawValue, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL)) }
    }

    /// Sends end-of-stream to the peer while still reading from it.
    /// The corresponding C function is `shutdown(2)` with SHUT_WR.
    public func shutdownWrite() throws(SystemError) {
        _ = try systemCall("shutdown") { Glibc.shutdown(self.fd.rawValue, CInt(SHUT_WR)) }
    }

    /// Turns Nagle's algorithm off (on for `false`). The corresponding C function is
    /// `setsockopt(2)` with TCP_NODELAY.
    public func setNoDelay(_ on: Bool = true) throws(SystemError) {
        try self.setOption(CInt(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0, name: "setsockopt(TCP_NODELAY)")
    }

    /// Asks for a kernel receive buffer of `bytes` (the kernel doubles it and caps it at
    /// net.core.rmem_max). The corresponding C function is `setsockopt(2)` with SO_RCVBUF.
    public func setReceiveBufferSize(_ bytes: Int) throws(SystemError) {
        try self.setOption(SOL_SOCKET, SO_RCVBUF, CInt(clamping: bytes), name: "setsockopt(SO_RCVBUF)")
    }

    /// Asks for a kernel send buffer of `bytes` (the kernel doubles it and caps it at
    /// net.core.wmem_max). The corresponding C function is `setsockopt(2)` with SO_SNDBUF.
    public func setSendBufferSize(_ bytes: Int) throws(SystemError) {
        try self.setOption(SOL_SOCKET, SO_SNDBUF, CInt(clamping: bytes), name: "setsockopt(SO_SNDBUF)")
    }

    /// Closes the socket. Deregister it from its loop first. Calling it twice is harmless.
    /// The corresponding C function is `close(2)`.
    public func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        // Linux releases the descriptor even when close reports an error (EINTR, EIO); there
        // is nothing useful a caller could do with one.
        try? self.fd.close()
    }

    /// A second descriptor for the same socket (close-on-exec), for another event loop to watch:
    /// a Unix or passed listener every loop accepts from. The corresponding C function is
    /// `fcntl(2)` with F_DUPFD_CLOEXEC.
    public func duplicate() throws(SystemError) -> Socket {
        let raw = try systemCall("fcntl(F_DUPFD_CLOEXEC)") { wsgate_fcntl(self.fd.rawValue, F_DUPFD_CLOEXEC, 0) }
        return Socket(taking: FileDescriptor(rawValue: raw))
    }

    /// The corresponding C function is `setsockopt(2)`.
    func setOption(_ level: CInt, _ option: CInt, _ value: CInt, name: StaticString) throws(SystemError) {
        var value = value
        _ = try systemCall(name) {
            Glibc.setsockopt(self.fd.rawValue, level, option, &value, socklen_t(MemoryLayout<CInt>.size))
        }
    }

    /// The corresponding C function is `getsockopt(2)`.
    func option(_ level: CInt, _ option: CInt, name: StaticString) throws(SystemError) -> CInt {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        _ = try systemCall(name) { Glibc.getsockopt(self.fd.rawValue, level, option, &value, &length) }
        return value
    }
}

@available(*, unavailable)
extension Socket: Sendable {}
