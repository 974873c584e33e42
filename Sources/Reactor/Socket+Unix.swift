import Glibc

extension Socket {
    /// Why a Unix socket could not be listened on.
    public enum UnixListenError: Error, CustomStringConvertible {
        /// Something accepts connections on the path: another server is running there.
        case inUse(String)
        /// The path names a file that is not a socket; it is left alone.
        case notASocket(String)
        case badPath(SocketAddress.Error)
        case system(SystemError)

        public var description: String {
            switch self {
            case .inUse(let path): "\(path): a live socket (something accepts connections on it)"
            case .notASocket(let path): "\(path): exists and is not a socket"
            case .badPath(let error): error.description
            case .system(let error): error.description
            }
        }
    }

    /// A listening Unix-domain socket at `path`, with file mode `mode` (`0o660`: the owner and
    /// the group may connect).
    ///
    /// A socket file left by a process that is gone (a connect to it is refused) is replaced; one
    /// something still accepts on is refused, as is a path that is not a socket at all. The mode is
    /// set between `bind` and `listen`, so no client connects before it applies.
    ///
    /// The corresponding C functions are `lstat(2)`, `connect(2)`, `unlink(2)`, `socket(2)`,
    /// `bind(2)`, `chmod(2)` and `listen(2)`.
    public static func listen(unixPath path: String, mode: UInt32, backlog: Int32 = 1024)
        throws(UnixListenError) -> Socket
    {
        let address: SocketAddress
        do {
            address = try SocketAddress(unixPath: path)
        } catch {
            throw .badPath(error)
        }
        try Self.removeStaleSocket(at: path, address: address)
        let socket: Socket
        do {
            socket = try Socket.stream(family: AF_UNIX)
        } catch {
            throw .system(error)
        }
        do throws(SystemError) {
            try address.withSockAddr { (pointer, length) throws(SystemError) in
                _ = try systemCall("bind") { Glibc.bind(socket.fd.rawValue, pointer, length) }
            }
            _ = try systemCall("chmod") { chmod(path, mode_t(mode)) }
            _ = try systemCall("listen") { Glibc.listen(socket.fd.rawValue, backlog) }
        } catch {
            socket.close()
            throw .system(error)
        }
        return socket
    }

    /// Unlinks the socket file at `path` if nothing accepts on it; throws if something does or if
    /// it is not a socket. Nothing at `path` is fine.
    private static func removeStaleSocket(at path: String, address: SocketAddress) throws(UnixListenError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
        // Non-blocking: a live listener accepts at once (or its backlog is full: EAGAIN); a stale
        // file refuses at once.
        let probe: Socket
        do {
            (probe, _) = try Socket.connect(to: address)
        } catch {
            if error.errno == .wouldBlock { throw .inUse(path) }
            guard error.errno == Errno(rawValue: ECONNREFUSED) else { throw .system(error) }
            guard unlink(path) == 0 else { throw .system(SystemError(call: "unlink", errno: Errno(rawValue: errno))) }
            return
        }
        probe.close()
        throw .inUse(path)
    }

    /// Removes the socket file of a Unix listener this process bound, at shutdown: only if `path`
    /// is still a socket (something else may have been put there since).
    /// The corresponding C functions are `lstat(2)` and `unlink(2)`.
    public static func removeSocketFile(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return }
        unlink(path)
    }
}
