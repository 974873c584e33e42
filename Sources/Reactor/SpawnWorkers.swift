import CGlibc
import Glibc
import Synchronization

/// Starts child processes on threads of their own, so the loop keeps serving while the kernel
/// execs: `ChildProcess.spawn` uses clone(CLONE_VFORK), which suspends the calling thread until the
/// child has called execve, a few hundred microseconds each. On the loop thread that serialised
/// every spawn and stalled every session meanwhile; here several spawns proceed at once.
///
/// Results come back on the loop thread, through an eventfd the loop watches. The threads live as
/// long as the process: a child's PR_SET_PDEATHSIG fires when the thread that spawned it exits.
public final class SpawnWorkers {
    /// What to start; the same as `ChildProcess.spawn`'s parameters.
    public struct Request: Sendable {
        public var executable: String
        public var arguments: [String]
        public var environment: [String: String]
        public var terminal: Bool
        public var controlGroup: ControlGroup?
        /// stdin from /dev/null and stderr on wsgate's own (a check that only answers on stdout),
        /// instead of pipes.
        public var quiet: Bool

        public init(executable: String, arguments: [String], environment: [String: String], terminal: Bool,
                    controlGroup: ControlGroup? = nil, quiet: Bool = false) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.terminal = terminal
            self.controlGroup = controlGroup
            self.quiet = quiet
        }
    }

    /// A child made on a worker thread, handed to the loop thread; nothing else touches it between.
    private struct Handoff: @unchecked Sendable {
        let result: Result<ChildProcess, SystemError>
    }

    private struct Queues: ~Copyable, Sendable {
        var jobs: [(id: Int, request: Request)] = []
        var done: [(id: Int, handoff: Handoff)] = []
        /// Spawns in progress on workers, whose pids are not known yet.
        var spawning = 0
        /// Children started and not yet handed to their completion.
        var unclaimed: Set<pid_t> = []
    }

    /// The queues, in an object of their own so that `ownershipProbe` can take them to other threads.
    private final class Ledger: Sendable {
        let queues = Mutex(Queues())
    }
    private let ledger = Ledger()
    /// Counts queued jobs; workers block reading it (EFD_SEMAPHORE: one job per read).
    private let jobsReady: CInt
    private let doneReady: Wakeup
    private let loop: EventLoop
    private var registration: Registration?
    private var completions: [Int: (Result<ChildProcess, SystemError>) -> Void] = [:]
    private var nextID = 0

    /// Starts `threads` workers and watches for their results on `loop`.
    /// The corresponding C functions are `eventfd(2)` and `pthread_create(3)`.
    public init(threads: Int, loop: EventLoop) throws(SystemError) {
        self.loop = loop
        self.jobsReady = try systemCall("eventfd") { eventfd(0, CInt(EFD_CLOEXEC | EFD_SEMAPHORE)) }
        self.doneReady = try Wakeup()
        self.registration = try loop.register(self.doneReady.fd, interest: .readable, handler: DoneHandler(self))
        for _ in 0..<max(1, threads) { try self.startWorker() }
    }

    /// Starts the request on a worker; `completion` runs on the loop thread with the child or the
    /// spawn's error.
    public func spawn(_ request: Request, completion: @escaping (Result<ChildProcess, SystemError>) -> Void) {
        self.nextID += 1
        let id = self.nextID
        self.completions[id] = completion
        self.ledger.queues.withLock { $0.jobs.append((id, request)) }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(self.jobsReady, $0.baseAddress, 8) }
    }

    /// A worker lives as long as the process (its children's PR_SET_PDEATHSIG fires when it exits).
    private func startWorker() throws(SystemError) {
        try startDetachedThread { [self] in self.work() }
    }

    private func work() {
        while true {
            var count: UInt64 = 0
            let read = withUnsafeMutableBytes(of: &count) { Glibc.read(self.jobsReady, $0.baseAddress, 8) }
            guard read == 8 else { continue }  // EINTR
            let next = self.ledger.queues.withLock { queues -> (id: Int, request: Request)? in
                guard !queues.jobs.isEmpty else { return nil }
                queues.spawning += 1
                return queues.jobs.removeFirst()
            }
            guard let job = next else { continue }
            let result = Self.spawn(job.request)
            self.ledger.queues.withLock { queues in
                queues.spawning -= 1
                if case .success(let child) = result { queues.unclaimed.insert(child.pid) }
                queues.done.append((job.id, Handoff(result: result)))
            }
            self.doneReady.signal()
        }
    }

    private static func spawn(_ request: Request) -> Result<ChildProcess, SystemError> {
        Result { () throws(SystemError) in
            try ChildProcess.spawn(
                executable: request.executable, arguments: request.arguments, environment: request.environment,
                standardInput: request.terminal ? .terminal : request.quiet ? .discard : .pipe,
                standardOutput: request.terminal ? .terminal : .pipe, standardError: request.quiet ? .inherit : .pipe,
                controlGroup: request.controlGroup)
        }
    }

    /// On the loop thread: hands each finished spawn to its completion.
    fileprivate func deliver() {
        self.doneReady.drain()
        let done = self.ledger.queues.withLock { queues -> [(id: Int, handoff: Handoff)] in
            let taken = queues.done
            queues.done = []
            return taken
        }
        for (id, handoff) in done {
            self.completions.removeValue(forKey: id)?(handoff.result)
            if case .success(let child) = handoff.result { self.ledger.queues.withLock { _ = $0.unclaimed.remove(child.pid) } }
        }
    }

    /// Whether `pid` may be a child these workers started that its completion has not taken yet,
    /// so that a reaper of orphans must leave it alone. While a spawn is in progress the answer is
    /// yes for every pid: its child's pid is not known until `clone` returns.
    public func mayOwn(_ pid: pid_t) -> Bool {
        self.ledger.queues.withLock { $0.spawning > 0 || $0.unclaimed.contains(pid) }
    }

    /// `mayOwn` for another thread: the reaper of orphans runs on the first event loop only, and
    /// must spare every loop's spawns in flight.
    public func ownershipProbe() -> @Sendable (pid_t) -> Bool {
        let ledger = self.ledger
        return { pid in ledger.queues.withLock { $0.spawning > 0 || $0.unclaimed.contains(pid) } }
    }
}

/// The done-eventfd's handler; unowned, since the workers keep the pool alive for the process's life.
private final class DoneHandler: EventHandler {
    unowned let workers: SpawnWorkers

    init(_ workers: SpawnWorkers) {
        self.workers = workers
    }

    func handle(_ readiness: Readiness) {
        self.workers.deliver()
    }
}

@available(*, unavailable)
extension SpawnWorkers: Sendable {}
