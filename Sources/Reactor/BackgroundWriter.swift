import CGlibc
import Glibc
import Synchronization

/// Writes to a descriptor from a thread of its own, through a bounded buffer, so whoever logs
/// (the loop thread) never blocks on a slow reader: a terminal scrolled back, a full pipe to a
/// log shipper that stalled.
///
/// When more than `capacity` bytes wait, new writes are dropped and counted; once the buffer has
/// drained, the writer reports the count with `dropNotice`. Everything still waiting is written
/// when the process exits (an `atexit` handler, bounded by a timeout), so the last lines of a
/// shutdown or a fatal error are not lost.
///
/// Deliberately not done: ordering with direct writes to the same descriptor (the command line's
/// own messages) is not kept; those happen only before serving starts or after it ends.
public final class BackgroundWriter: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var dropped = 0
        /// The writer thread holds bytes it took and has not finished writing.
        var writing = false
    }

    private let fd: CInt
    private let capacity: Int
    private let dropNotice: @Sendable (Int) -> String
    private let state = Mutex(State())
    /// An eventfd the writer thread blocks on; signalled when the buffer goes from empty to not.
    private let wakeup: CInt

    /// - Parameters:
    ///   - fd: the descriptor to write to; it stays blocking, as other processes may share it.
    ///   - capacity: bytes that may wait before new writes are dropped.
    ///   - dropNotice: the line to write after `n` writes were dropped.
    /// The corresponding C functions are `eventfd(2)` and `pthread_create(3)`.
    public init(fd: CInt, capacity: Int, dropNotice: @escaping @Sendable (Int) -> String) throws(SystemError) {
        self.fd = fd
        self.capacity = capacity
        self.dropNotice = dropNotice
        self.wakeup = try systemCall("eventfd") { eventfd(0, CInt(EFD_CLOEXEC)) }
        // The writer lives as long as the process: the thread holds it.
        try startDetachedThread { [self] in self.drainForever() }
    }

    /// Queues `text`, or drops it when `capacity` bytes already wait. Never blocks on the
    /// descriptor; takes a lock held only to append.
    public func write(_ text: String) {
        let wasEmpty = self.state.withLock { state -> Bool in
            guard state.pending.count + text.utf8.count <= self.capacity else {
                state.dropped += 1
                return false
            }
            let wasEmpty = state.pending.isEmpty && !state.writing
            state.pending.append(contentsOf: text.utf8)
            return wasEmpty
        }
        if wasEmpty { self.signal() }
    }

    /// Waits until everything queued has been written, at most `timeout`.
    public func flush(timeout: Duration = .seconds(2)) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let idle = self.state.withLock { $0.pending.isEmpty && !$0.writing }
            if idle { return }
            self.signal()
            usleep(1000)
        }
    }

    /// Flushes this writer when the process exits through `exit(3)` (not `_exit`, not a signal).
    /// The corresponding C function is `atexit(3)`.
    public func flushAtExit() {
        let first = BackgroundWriter.flushedAtExit.withLock { writers -> Bool in
            writers.append(self)
            return writers.count == 1
        }
        if first {
            atexit {
                for writer in BackgroundWriter.flushedAtExit.withLock({ $0 }) { writer.flush() }
            }
        }
    }

    private static let flushedAtExit = Mutex<[BackgroundWriter]>([])

    private func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(self.wakeup, $0.baseAddress, 8) }
    }

    /// How long the writer waits after a wake-up for more to come, so that a busy logger (two
    /// access lines per session, thousands of sessions a second) costs one wake-up and one write
    /// per batch of lines rather than per line: the loop signals only when the buffer was empty.
    /// 10 ms rather than 1 took 2-4 us off each churned session with the access log on.
    static let coalescing: UInt32 = 10_000  // microseconds

    private func drainForever() {
        var counter: UInt64 = 0
        while true {
            _ = withUnsafeMutableBytes(of: &counter) { Glibc.read(self.wakeup, $0.baseAddress, 8) }
            usleep(Self.coalescing)
            while true {
                let (bytes, dropped) = self.state.withLock { state -> ([UInt8], Int) in
                    let taken = (state.pending, state.dropped)
                    state.pending = []
                    state.dropped = 0
                    state.writing = !taken.0.isEmpty || taken.1 > 0
                    return taken
                }
                guard !bytes.isEmpty || dropped > 0 else { break }
                self.writeAll(bytes)
                if dropped > 0 { self.writeAll(Array(self.dropNotice(dropped).utf8)) }
                self.state.withLock { $0.writing = false }
            }
        }
    }

    /// Writes every byte, retrying EINTR and waiting out EAGAIN (a descriptor someone else made
    /// non-blocking); gives up on any other error, as a log has nowhere to report it.
    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(self.fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written == -1 && (errno == EINTR || errno == EAGAIN) {
                    if errno == EAGAIN { usleep(1000) }
                } else {
                    return
                }
            }
        }
    }
}
