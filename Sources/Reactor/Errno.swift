import CGlibc
import Glibc

/// An error number from a system call, as a typed value.
///
/// Named statics exist only for the codes callers branch on; any other value is still a
/// valid `Errno` and prints its symbolic name.
public struct Errno: Error, Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    public let rawValue: CInt

    @inlinable
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// The calling thread's current `errno`. Read it on the line right after the call.
    @inlinable
    public static var current: Errno {
        Errno(rawValue: errno)
    }

    /// EAGAIN (EWOULDBLOCK): the non-blocking operation would block.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// EINTR: a signal interrupted the call before it did anything.
    public static let interrupted = Errno(rawValue: EINTR)
    /// EBADF: not an open descriptor. From read, write or epoll_ctl this is our own bug.
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// EINVAL.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// ENOENT.
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// EACCES.
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// ESRCH: no such process (or process group).
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// ECHILD: no child to wait for.
    public static let noChildProcess = Errno(rawValue: ECHILD)
    /// ECONNRESET: the peer reset the connection.
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    /// ECONNREFUSED: nothing listens at the address.
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// ECONNABORTED: a connection was aborted before accept could return it.
    public static let connectionAborted = Errno(rawValue: ECONNABORTED)
    /// EIO: on a pseudo-terminal master, every slave descriptor is closed.
    public static let inputOutput = Errno(rawValue: EIO)
    /// EPIPE: the other end is closed.
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// ETIMEDOUT.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// EINPROGRESS: a non-blocking connect has started.
    public static let inProgress = Errno(rawValue: EINPROGRESS)
    /// EADDRINUSE.
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// EADDRNOTAVAIL.
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    /// ENOTCONN.
    public static let notConnected = Errno(rawValue: ENOTCONN)
    /// EHOSTUNREACH.
    public static let hostUnreachable = Errno(rawValue: EHOSTUNREACH)
    /// ENETUNREACH.
    public static let networkUnreachable = Errno(rawValue: ENETUNREACH)
    /// EMFILE: this process is out of descriptors.
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    /// ENFILE: the system is out of descriptors.
    public static let tooManyOpenFilesInSystem = Errno(rawValue: ENFILE)
    /// ENOBUFS.
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)
    /// ENOMEM.
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// EPERM.
    public static let notPermitted = Errno(rawValue: EPERM)
    /// ETXTBSY: the executable is open for writing somewhere (often only for an instant: another
    /// thread's child that has not reached execve yet still holds a copy of a writer's descriptor).
    public static let textFileBusy = Errno(rawValue: ETXTBSY)

    /// The symbolic name, "EAGAIN"; "E<number>" for a value the C library does not know.
    /// The corresponding C function is `strerrorname_np(3)`.
    public var name: String {
        guard let name = wsgate_errno_name(self.rawValue) else { return "E\(self.rawValue)" }
        return String(cString: name)
    }

    /// The C library's message, "Too many open files".
    /// The corresponding C function is `strerrordesc_np(3)` (strerror without its static buffer).
    public var message: String {
        guard let message = wsgate_errno_message(self.rawValue) else { return "Unknown error \(self.rawValue)" }
        return String(cString: message)
    }

    /// "EMFILE: Too many open files".
    public var description: String {
        "\(self.name): \(self.message)"
    }
}

/// A failed system call: which call, and its errno.
///
/// This is what the reactor throws, so a log line can say "accept4: EMFILE: Too many open
/// files" without the caller having to remember what it called.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The C function that failed, "accept4".
    public let call: String
    /// What the call set `errno` to.
    public let errno: Errno

    /// - Parameters:
    ///   - call: the C function's name, optionally with the option it was given
    ///     ("setsockopt(SO_REUSEADDR)").
    ///   - errno: its error.
    @inlinable
    public init(call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }

    /// "accept4: EMFILE: Too many open files".
    public var description: String {
        "\(self.call): \(self.errno)"
    }
}
