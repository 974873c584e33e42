import Glibc

/// sd_notify(3) without libsystemd: one datagram per state change (`READY=1`, `RELOADING=1`,
/// `STOPPING=1`) to the Unix socket systemd names in NOTIFY_SOCKET, a path or, after `@`, an
/// abstract name.
public final class ServiceNotifier {
    private let socket: FileDescriptor
    private var address = sockaddr_un()
    private let length: socklen_t

    /// A notifier for `target` (NOTIFY_SOCKET's value); nil when it is not a usable address.
    /// The corresponding C function is `socket(2)` with SOCK_DGRAM.
    public init?(target: String) {
        var bytes = Array(target.utf8)
        guard bytes.count > 1, bytes[0] == UInt8(ascii: "/") || bytes[0] == UInt8(ascii: "@") else { return nil }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }  // an abstract name starts with NUL
        guard bytes.count < MemoryLayout.size(ofValue: self.address.sun_path) else { return nil }
        let raw = Glibc.socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard raw >= 0 else { return nil }
        self.socket = FileDescriptor(rawValue: raw)
        self.address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &self.address.sun_path) { $0.copyBytes(from: bytes) }
        // A path's length counts its NUL; an abstract name's is exactly its bytes.
        let pathLength = bytes[0] == 0 ? bytes.count : bytes.count + 1
        self.length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathLength)
    }

    deinit {
        try? self.socket.close()
    }

    /// `RELOADING=1` with the MONOTONIC_USEC that systemd 253's Type=notify-reload asks for.
    /// The corresponding C function is `clock_gettime(2)` with CLOCK_MONOTONIC.
    @discardableResult
    public func notifyReloading() -> SystemError? {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return self.notify("RELOADING=1\nMONOTONIC_USEC=\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)")
    }

    /// Sends `state` ("READY=1"); a failure is returned, not thrown: the service works without it.
    /// The corresponding C function is `sendto(2)`.
    @discardableResult
    public func notify(_ state: String) -> SystemError? {
        var text = state
        let sent = text.withUTF8 { bytes in
            withUnsafePointer(to: &self.address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.sendto(self.socket.rawValue, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL), $0, self.length)
                }
            }
        }
        return sent < 0 ? SystemError(call: "sendto", errno: Errno(rawValue: errno)) : nil
    }
}

extension Socket {
    /// Adopts a listening stream socket this process inherited (socket activation): made
    /// non-blocking and close-on-exec, as wsgate's own sockets are.
    /// - Throws: `SystemError` when `fd` is not open (EBADF), not a socket (ENOTSOCK), not a
    ///   stream socket or not listening (EINVAL).
    ///
    /// The corresponding C functions are `getsockopt(2)` (SO_TYPE, SO_ACCEPTCONN) and `fcntl(2)`.
    public static func adoptListening(_ fd: Int32) throws(SystemError) -> Socket {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard Glibc.getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) == 0 else {
            throw SystemError(call: "getsockopt(SO_TYPE)", errno: Errno(rawValue: errno))
        }
        guard value == CInt(SOCK_STREAM.rawValue) else {
            throw SystemError(call: "getsockopt(SO_TYPE)", errno: Errno(rawValue: EINVAL))
        }
        guard Glibc.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0, value == 1 else {
            throw SystemError(call: "getsockopt(SO_ACCEPTCONN)", errno: Errno(rawValue: EINVAL))
        }
        let descriptor = FileDescriptor(rawValue: fd)
        try descriptor.setNonBlocking()
        try descriptor.setCloseOnExec()
        return Socket(taking: descriptor)
    }
}

extension ProcessEnvironment {
    /// Removes `name` from this process's environment, so children never inherit it.
    /// The corresponding C function is `unsetenv(3)`.
    public static func remove(_ name: String) {
        unsetenv(name)
    }
}
