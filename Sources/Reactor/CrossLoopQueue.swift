import Glibc
import Synchronization

/// A bounded queue into one `EventLoop` from any thread: senders append a batch under a lock held
/// only for the append, and wake the loop through an eventfd when the queue was empty; the loop
/// takes everything queued with one swap and hands it to its receiver in order.
///
/// A sender posts a batch (what it gathered in one iteration), not each message, so the lock is
/// taken once per batch. Beyond `capacity` elements waiting, what does not fit is refused (and
/// counted by the caller): a loop that cannot keep up must not make memory grow without bound.
public final class CrossLoopQueue<Element: Sendable>: Sendable {
    public let capacity: Int
    private let pending = Mutex<[Element]>([])
    private let wakeup: Wakeup

    public init(capacity: Int) throws(SystemError) {
        self.capacity = capacity
        self.wakeup = try Wakeup()
    }

    /// Appends what fits of `batch`, in order, and wakes the loop; returns how many did not fit.
    @discardableResult
    public func post(_ batch: [Element]) -> Int {
        guard !batch.isEmpty else { return 0 }
        let (wasEmpty, refused) = self.pending.withLock { pending -> (Bool, Int) in
            let wasEmpty = pending.isEmpty
            let room = max(0, self.capacity - pending.count)
            if room >= batch.count {
                pending.append(contentsOf: batch)
                return (wasEmpty, 0)
            }
            pending.append(contentsOf: batch.prefix(room))
            return (wasEmpty, batch.count - room)
        }
        // The loop drains the eventfd before it swaps, so a wake-up is never lost.
        if wasEmpty && refused < batch.count { self.wakeup.signal() }
        return refused
    }

    /// Watches the queue on `loop` (its thread, before or while it runs): `receive` gets each
    /// batch on the loop thread.
    public func attach(to loop: EventLoop, _ receive: @escaping ([Element]) -> Void) throws(SystemError) -> Registration {
        try loop.register(self.wakeup.fd, interest: .readable, handler: CrossLoopReceiver(queue: self, receive: receive))
    }

    fileprivate func take() -> [Element] {
        self.wakeup.drain()
        return self.pending.withLock { pending in
            let taken = pending
            pending.removeAll(keepingCapacity: true)
            return taken
        }
    }
}

/// The loop-side handler of a `CrossLoopQueue`: it lives in the loop, never crosses threads.
private final class CrossLoopReceiver<Element: Sendable>: EventHandler {
    let queue: CrossLoopQueue<Element>
    let receive: ([Element]) -> Void

    init(queue: CrossLoopQueue<Element>, receive: @escaping ([Element]) -> Void) {
        self.queue = queue
        self.receive = receive
    }

    func handle(_ readiness: Readiness) {
        let batch = self.queue.take()
        if !batch.isEmpty { self.receive(batch) }
    }
}

/// The threads of a process's event loops other than the first (`--threads`). Each lives as long
/// as the process: a child's PR_SET_PDEATHSIG fires when the thread that spawned it exits, so a
/// loop's body runs, then its thread sleeps until the process ends. Signals are blocked on them
/// (they go to the first loop's signalfd).
public final class LoopThreads: Sendable {
    private let finished = Atomic<Int>(0)

    public init() {}

    /// Runs `body` on a new thread.
    public func start(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        try startDetachedThread { [self] in
            body()
            self.finished.wrappingAdd(1, ordering: .releasing)
            while true { pause() }
        }
    }

    /// Waits until `count` bodies have returned, or `timeout` has passed; true when they have.
    /// Called once, at shutdown, by the thread of the first loop, whose own loop has stopped.
    public func wait(forFinished count: Int, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.finished.load(ordering: .acquiring) < count {
            guard ContinuousClock.now < deadline else { return false }
            var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
            nanosleep(&pause, nil)
        }
        return true
    }
}
