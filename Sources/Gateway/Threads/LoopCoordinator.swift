import Reactor
import Synchronization
import WebSocket

/// What one event loop tells another (`--threads`): it crosses threads, so it holds only values.
enum LoopMessage: Sendable {
    /// A broadcast room's message from a member on another loop, for this loop's members of the
    /// same room (the route's service key and the room's path).
    case room(service: String, path: String, opcode: Opcode, payload: [UInt8])
    /// SIGHUP reached the first loop, which reloaded: reload the same way.
    case hangup
    /// A session of a long-lived program's route (the route's service key), on loop `loop`, for
    /// the program's service on the first loop.
    case programEvent(service: String, loop: Int, RemoteProgramEvent)
    /// The first loop's long-lived program, for its route's sessions on this loop.
    case programOutput(service: String, RemoteProgramOutput)
}

/// The process-wide part of a gateway that runs several event loops (`--threads N`): what must be
/// one for the process while each loop keeps its own sessions, timers, buffers and rooms.
///
/// - limits: connections (`--max-connections`) and per-session programs (`--maxforks`, and each
///   route's own bound) are counted here, so they hold for the process, not per loop;
/// - ids: session ids (the shared protocol and the log address sessions by them) and UNIQUE_ID
///   values are unique and increasing across loops;
/// - the reaper of orphans (on the first loop, which alone takes signals) spares every loop's
///   programs and spawns in flight;
/// - each loop's inbox: a bounded `CrossLoopQueue` woken by an eventfd.
///
/// Without `--threads` (one loop) there is no coordinator and none of this is paid for.
final class LoopCoordinator: Sendable {
    /// Messages waiting for one loop beyond this are dropped (and counted): a loop that cannot
    /// keep up must not make the others' memory grow.
    static let inboxCapacity = 1 << 16

    let loopCount: Int
    let inboxes: [CrossLoopQueue<LoopMessage>]
    /// Connections open on every loop, handshakes included.
    let connections = Atomic<Int>(0)
    /// Cross-loop messages an inbox had no room for.
    let droppedMessages = Atomic<Int>(0)
    /// The threads of the loops other than the first.
    let threads = LoopThreads()
    /// The room bus's instance id, one per process, so that no loop takes another loop's
    /// publication for a remote one (they reach each other through their inboxes).
    let busInstance: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
    private let nextSession = Atomic<Int>(1)
    private let lastUniqueID = Atomic<Int64>(0)
    private let programs = Mutex(ProgramCounts())
    private let owned = Mutex(OwnedChildren())
    /// Each loop's counters as it last published them (every second, with `--metrics`).
    private let metrics = Mutex<[Int: LoopMetrics]>([:])

    /// One loop's counters and programs, for a scrape that another loop answers.
    struct LoopMetrics: Sendable {
        let counters: MetricsRegistry.Snapshot
        let programs: Int
    }

    func publishMetrics(_ metrics: LoopMetrics, loop: Int) { self.metrics.withLock { $0[loop] = metrics } }

    /// What every loop but `loop` last published.
    func metrics(besides loop: Int) -> [LoopMetrics] {
        self.metrics.withLock { all in all.filter { $0.key != loop }.sorted { $0.key < $1.key }.map(\.value) }
    }

    private struct ProgramCounts {
        var total = 0
        var byRoute: [String: Int] = [:]
    }

    private struct OwnedChildren {
        var pids = Set<Int32>()
        var spawnProbes: [@Sendable (Int32) -> Bool] = []
    }

    init(loops: Int) throws(SystemError) {
        self.loopCount = loops
        var inboxes: [CrossLoopQueue<LoopMessage>] = []
        for _ in 0..<loops { inboxes.append(try CrossLoopQueue(capacity: Self.inboxCapacity)) }
        self.inboxes = inboxes
    }

    /// A session id no loop has used.
    func nextSessionID() -> Int { self.nextSession.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// UNIQUE_ID: wall-clock nanoseconds, strictly increasing across loops.
    func nextUniqueID() -> Int64 {
        let now = WallClock.nanosecondsSinceEpoch()
        var last = self.lastUniqueID.load(ordering: .relaxed)
        while true {
            let next = max(now, last + 1)
            let (exchanged, original) = self.lastUniqueID.compareExchange(
                expected: last, desired: next, ordering: .relaxed)
            if exchanged { return next }
            last = original
        }
    }

    // MARK: Programs (--maxforks)

    /// Programs running on every loop, and on `route`.
    func runningPrograms(route: String) -> (total: Int, route: Int) {
        self.programs.withLock { ($0.total, $0.byRoute[route, default: 0]) }
    }

    var runningPrograms: Int { self.programs.withLock { $0.total } }

    /// Counts a program on `route` if the limits leave room for it; false: refuse it.
    func reserveProgram(route: String, limit: Int?, routeLimit: Int?) -> Bool {
        self.programs.withLock { counts in
            if let limit, counts.total >= limit { return false }
            if let routeLimit, counts.byRoute[route, default: 0] >= routeLimit { return false }
            counts.total += 1
            counts.byRoute[route, default: 0] += 1
            return true
        }
    }

    func countProgram(route: String) {
        self.programs.withLock { counts in
            counts.total += 1
            counts.byRoute[route, default: 0] += 1
        }
    }

    func programExited(route: String) {
        self.programs.withLock { counts in
            counts.total -= 1
            counts.byRoute[route, default: 1] -= 1
            if counts.byRoute[route] == 0 { counts.byRoute[route] = nil }
        }
    }

    // MARK: Children (the reaper of orphans)

    func own(_ pid: Int32) { self.owned.withLock { _ = $0.pids.insert(pid) } }
    func disown(_ pid: Int32) { self.owned.withLock { _ = $0.pids.remove(pid) } }
    func addSpawnProbe(_ probe: @escaping @Sendable (Int32) -> Bool) { self.owned.withLock { $0.spawnProbes.append(probe) } }

    /// Whether `pid` is some loop's program, auth command or spawn in flight.
    func owns(_ pid: Int32) -> Bool {
        let (known, probes) = self.owned.withLock { ($0.pids.contains(pid), $0.spawnProbes) }
        return known || probes.contains { $0(pid) }
    }
}
