import CGlibc

/// What a registration waits for. Empty means "nothing for now": the descriptor is then
/// taken out of the epoll set, so even a hang-up cannot wake the loop until interest returns.
public struct Interest: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Wake when there is something to read, or the peer has closed its side.
    public static let readable = Interest(rawValue: 1 << 0)
    /// Wake when a write would not block (the kernel buffer has room).
    public static let writable = Interest(rawValue: 1 << 1)
    /// Wake when the peer has closed its side or the connection is gone, but not for data: for a
    /// reader that has paused yet must notice a peer that leaves. Level-triggered, it wakes again
    /// and again until acted on, so its handler must act at once (close, or stop watching).
    public static let hangup = Interest(rawValue: 1 << 2)

    /// The epoll mask. EPOLLRDHUP comes with `.readable` and `.hangup` only: level-triggered, it
    /// would fire forever for a writer that has stopped reading. EPOLLHUP and EPOLLERR the kernel
    /// reports whatever the mask, as long as the descriptor is in the set.
    @inlinable
    var epollEvents: UInt32 {
        var events: UInt32 = 0
        if self.contains(.readable) {
            events |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        }
        if self.contains(.writable) {
            events |= EPOLLOUT.rawValue
        }
        if self.contains(.hangup) {
            events |= EPOLLRDHUP.rawValue
        }
        return events
    }

    public var description: String {
        var names: [String] = []
        if self.contains(.readable) { names.append("readable") }
        if self.contains(.writable) { names.append("writable") }
        if self.contains(.hangup) { names.append("hangup") }
        return "[\(names.joined(separator: ", "))]"
    }
}

/// What the kernel reported for a registration in one loop iteration.
///
/// `.hangup` (EPOLLRDHUP or EPOLLHUP) and `.error` (EPOLLERR) are reported whether or not
/// they were asked for. They say "read or write now to find out": a read then returns 0 or
/// the error, a write fails with EPIPE or ECONNRESET.
public struct Readiness: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// A read will not block (EPOLLIN).
    public static let readable = Readiness(rawValue: 1 << 0)
    /// A write will not block (EPOLLOUT).
    public static let writable = Readiness(rawValue: 1 << 1)
    /// The peer closed its writing side (EPOLLRDHUP) or both sides are gone (EPOLLHUP).
    public static let hangup = Readiness(rawValue: 1 << 2)
    /// An error is pending on the descriptor (EPOLLERR).
    public static let error = Readiness(rawValue: 1 << 3)

    /// Decodes an `epoll_event.events` mask.
    @inlinable
    init(epollEvents events: UInt32) {
        var readiness: UInt8 = 0
        if events & EPOLLIN.rawValue != 0 { readiness |= Readiness.readable.rawValue }
        if events & EPOLLOUT.rawValue != 0 { readiness |= Readiness.writable.rawValue }
        if events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue) != 0 { readiness |= Readiness.hangup.rawValue }
        if events & EPOLLERR.rawValue != 0 { readiness |= Readiness.error.rawValue }
        self.init(rawValue: readiness)
    }

    public var description: String {
        var names: [String] = []
        if self.contains(.readable) { names.append("readable") }
        if self.contains(.writable) { names.append("writable") }
        if self.contains(.hangup) { names.append("hangup") }
        if self.contains(.error) { names.append("error") }
        return "[\(names.joined(separator: ", "))]"
    }
}

/// An object the loop calls when its descriptor is ready.
///
/// The loop keeps a strong reference while the descriptor is registered. The handler gets
/// one `Readiness` per iteration; if it both reads and writes, reading first lets it see a
/// peer's close before wasting a write on it.
public protocol EventHandler: AnyObject {
    func handle(_ readiness: Readiness)
}

/// A descriptor's place in an `EventLoop`, returned by `register` and passed to `modify`
/// and `deregister`.
///
/// It carries a generation number as well as the descriptor, so that a registration for a
/// descriptor number that was closed and reused is told apart from the old one.
public struct Registration: Hashable, Sendable, CustomStringConvertible {
    /// The registered descriptor.
    public let fd: FileDescriptor
    @usableFromInline
    let generation: UInt32

    @inlinable
    init(fd: FileDescriptor, generation: UInt32) {
        self.fd = fd
        self.generation = generation
    }

    /// What goes into `epoll_event.data.u64`: generation in the high half, descriptor in the
    /// low half (NIO's EPollUserData).
    @inlinable
    var userData: UInt64 {
        UInt64(self.generation) << 32 | UInt64(UInt32(bitPattern: self.fd.rawValue))
    }

    @inlinable
    init(userData: UInt64) {
        self.fd = FileDescriptor(rawValue: CInt(bitPattern: UInt32(truncatingIfNeeded: userData)))
        self.generation = UInt32(truncatingIfNeeded: userData >> 32)
    }

    public var description: String {
        "registration(fd: \(self.fd.rawValue), generation: \(self.generation))"
    }
}
