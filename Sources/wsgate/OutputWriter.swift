import Reactor

/// Writes to a non-blocking pipe (a child's stdin) on a client's loop, queueing what does not fit.
///
/// Never blocks: blocking on a child that is itself blocked writing to us would deadlock.
final class OutputWriter: EventHandler {
    let end: Pipe.End
    unowned let loop: EventLoop
    private var registration: Registration?
    private var pending: [UInt8] = []
    private(set) var failed = false

    init(end: Pipe.End, loop: EventLoop) throws(SystemError) {
        self.end = end
        self.loop = loop
        self.registration = try loop.register(end.fd, interest: [], handler: self)
    }

    var queuedCount: Int { self.pending.count }

    func write(_ bytes: [UInt8]) {
        guard !self.failed, !self.end.isClosed else { return }
        self.pending.append(contentsOf: bytes)
        self.flush()
    }

    func handle(_ readiness: Readiness) {
        self.flush()
        self.loop.stop()
    }

    private func flush() {
        while !self.pending.isEmpty {
            let result = self.pending.withUnsafeBytes { bytes in
                Result { () throws(SystemError) in try self.end.write(bytes) }
            }
            switch result {
            case .success(.processed(let count)): self.pending.removeFirst(count)
            case .success(.wouldBlock):
                if let registration = self.registration { try? self.loop.modify(registration, interest: .writable) }
                return
            case .failure:
                self.failed = true  // the program closed its stdin: what it did not read is dropped
                self.pending = []
            }
        }
        if let registration = self.registration { try? self.loop.modify(registration, interest: []) }
    }

    func close() {
        if let registration = self.registration {
            self.loop.deregister(registration)
            self.registration = nil
        }
        if !self.end.isClosed { self.end.close() }
    }
}
