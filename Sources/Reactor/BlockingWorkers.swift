import CGlibc
import Glibc
import Synchronization

/// Runs slow, blocking work (a bcrypt check takes 50–100 ms of CPU) on threads of its own, so the
/// loop keeps serving meanwhile; each result comes back on the loop thread, through an eventfd the
/// loop watches.
///
/// Jobs run in the order they were submitted, as many at once as there are threads. The threads
/// live as long as the process. Not for spawning programs: `SpawnWorkers` does that, and keeps
/// track of the children it starts.
public final class BlockingWorkers {
    private struct Queues: ~Copyable {
        var jobs: [(id: Int, work: @Sendable () -> any Sendable)] = []
        var done: [(id: Int, result: any Sendable)] = []
    }

    private let queues = Mutex(Queues())
    /// Counts queued jobs; workers block reading it (EFD_SEMAPHORE: one job per read).
    private let jobsReady: CInt
    private let doneReady: Wakeup
    private var completions: [Int: (any Sendable) -> Void] = [:]
    private var nextID = 0

    /// Starts `threads` workers and watches for their results on `loop`.
    /// The corresponding C functions are `eventfd(2)` and `pthread_create(3)`.
    public init(threads: Int, loop: EventLoop) throws(SystemError) {
        self.jobsReady = try systemCall("eventfd") { eventfd(0, CInt(EFD_CLOEXEC | EFD_SEMAPHORE)) }
        self.doneReady = try Wakeup()
        _ = try loop.register(self.doneReady.fd, interest: .readable, handler: BlockingWorkersDone(self))
        for _ in 0..<max(1, threads) {
            try startDetachedThread { [self] in self.work() }
        }
    }

    /// Runs `work` on a worker; `completion` runs on the loop thread with its result.
    public func submit<Result: Sendable>(_ work: @escaping @Sendable () -> Result,
                                         completion: @escaping (Result) -> Void) {
        self.nextID += 1
        let id = self.nextID
        self.completions[id] = { completion($0 as! Result) }
        self.queues.withLock { $0.jobs.append((id, work)) }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(self.jobsReady, $0.baseAddress, 8) }
    }

    private func work() {
        while true {
            var count: UInt64 = 0
            let read = withUnsafeMutableBytes(of: &count) { Glibc.read(self.jobsReady, $0.baseAddress, 8) }
            guard read == 8 else { continue }  // EINTR
            let next = self.queues.withLock { queues in queues.jobs.isEmpty ? nil : queues.jobs.removeFirst() }
            guard let job = next else { continue }
            let result = job.work()
            self.queues.withLock { $0.done.append((job.id, result)) }
            self.doneReady.signal()
        }
    }

    /// On the loop thread: hands each result to its completion.
    fileprivate func deliver() {
        self.doneReady.drain()
        let done = self.queues.withLock { queues in
            let taken = queues.done
            queues.done = []
            return taken
        }
        for (id, result) in done { self.completions.removeValue(forKey: id)?(result) }
    }
}

/// The done-eventfd's handler; unowned, since the workers live as long as the process.
private final class BlockingWorkersDone: EventHandler {
    unowned let workers: BlockingWorkers

    init(_ workers: BlockingWorkers) {
        self.workers = workers
    }

    func handle(_ readiness: Readiness) {
        self.workers.deliver()
    }
}

@available(*, unavailable)
extension BlockingWorkers: Sendable {}
