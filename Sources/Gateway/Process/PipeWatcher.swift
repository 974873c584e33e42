import Reactor

/// Forwards a pipe's readiness to its owner, so one object can watch a child's three pipes.
final class PipeWatcher: EventHandler {
    let end: Pipe.End
    /// Set by the owner once it exists; it must not capture the owner strongly.
    var onReady: (Readiness) -> Void = { _ in }
    var registration: Registration?

    init(_ end: Pipe.End) {
        self.end = end
    }

    func handle(_ readiness: Readiness) {
        self.onReady(readiness)
    }

    /// Registers the pipe with `interest`, or changes it.
    /// - Throws: epoll's error (ENOMEM, ENOSPC): the owner cannot be served and must give up on the
    ///   pipe, not carry on unwatched.
    func watch(in loop: EventLoop, _ interest: Interest) throws(SystemError) {
        if let registration = self.registration {
            try loop.modify(registration, interest: interest)
        } else if !self.end.isClosed {
            self.registration = try loop.register(self.end.fd, interest: interest, handler: self)
        }
    }

    /// Stops watching and closes our end.
    func close(in loop: EventLoop) {
        if let registration = self.registration {
            loop.deregister(registration)
            self.registration = nil
        }
        if !self.end.isClosed { self.end.close() }
    }

    var isClosed: Bool { self.end.isClosed }
}
