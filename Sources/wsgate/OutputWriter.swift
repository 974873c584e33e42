import Reactor
import WebSocket

/// Writes to a non-blocking pipe (a child's stdin) on a client's loop, queueing what does not fit.
///
/// Never blocks: blocking on a child that is itself blocked writing to us would deadlock. The queue
/// is bounded by its user: while `isBacklogged`, the client stops reading the socket, so a program
/// that reads slowly (or not at all) slows the server down instead of growing our memory.
final class OutputWriter: EventHandler, MessageSink {
    /// Queued bytes above which the writer is backlogged; it stops being so at a quarter of this.
    static let highWater = 1 << 20

    let end: Pipe.End
    /// Messages pass as they are; otherwise each becomes a line.
    let binary: Bool
    unowned let loop: EventLoop
    private var registration: Registration?
    private var pending: [UInt8] = []
    private(set) var failed = false
    private(set) var isBacklogged = false

    init(end: Pipe.End, binary: Bool, loop: EventLoop) throws(SystemError) {
        self.end = end
        self.binary = binary
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
        defer { self.updateBacklog() }
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

    private func updateBacklog() {
        if self.pending.count > Self.highWater {
            self.isBacklogged = true
        } else if self.pending.count <= Self.highWater / 4 {
            self.isBacklogged = false
        }
    }

    /// Writes a received message to the program's stdin: a line in line mode, the bytes as they
    /// are in binary mode. A program that closed its stdin just does not get it.
    func deliver(_ event: Connection.Event) -> Bool {
        switch event {
        case .text(let text): self.write(Array(text.utf8) + (self.binary ? [] : [0x0A]))
        case .binary(let bytes): self.write(bytes + (self.binary ? [] : [0x0A]))
        default: break
        }
        return true
    }

    func close() {
        self.pending = []
        self.isBacklogged = false
        if let registration = self.registration {
            self.loop.deregister(registration)
            self.registration = nil
        }
        if !self.end.isClosed { self.end.close() }
    }
}
