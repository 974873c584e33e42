import CGlibc
import Glibc

/// A level-triggered epoll loop: descriptors with handlers, timers, deferred actions,
/// signals, and a thread-safe stop.
///
/// One thread owns a loop: it creates it, registers on it and runs it. Handlers, timers and
/// `runSoon` actions all run on that thread, so they need no locks. Only `stopHandle` may
/// cross threads.
///
/// One iteration: wait (no longer than the earliest timer; not at all if `runSoon` work is
/// pending), refresh `now`, call each ready handler once, fire due timers, run the
/// `runSoon` actions queued so far. Nothing is allocated per iteration or per event.
///
/// Deliberately not done: edge-triggered mode, one-shot registrations, multiple handlers
/// per descriptor, and cross-thread task submission.
public final class EventLoop {
    /// At most this many events are taken from the kernel per iteration; the rest stay
    /// ready and come next time (level-triggered), so nothing is lost.
    public static let maximumEventsPerIteration = 256

    private struct Slot {
        var handler: (any EventHandler)?
        var generation: UInt32 = 0
        var interest: Interest = []
    }

    private let epoll: FileDescriptor
    private let events: UnsafeMutableBufferPointer<epoll_event>
    // The state below is `@exclusivity(unchecked)`: the loop runs on one thread and calls handlers,
    // timers and actions only between its own accesses, so the runtime's dynamic checks, paid on
    // every iteration, would find nothing.
    /// Indexed by descriptor number: descriptors are small, dense integers.
    @exclusivity(unchecked) private var slots: [Slot] = []
    private var nextGeneration: UInt32 = 1
    /// Registrations made by callers; the loop's own eventfd and signalfd are subtracted.
    var userRegistrations = 0

    @exclusivity(unchecked) var timers = TimerQueue()
    @exclusivity(unchecked) private var deferred: [() -> Void] = []
    @exclusivity(unchecked) private var deferredRunning: [() -> Void] = []

    /// The same moment on both clocks: the public one, and CLOCK_MONOTONIC, which the loop
    /// reads itself because it is cheap (vDSO, no 128-bit arithmetic) and because epoll's
    /// timeout runs on it too.
    let epoch: ContinuousClock.Instant
    private let epochMonotonic: Int64
    /// Nanoseconds since `epoch`, cached at the start of each iteration, right after the wait.
    @exclusivity(unchecked) private(set) var nowNanoseconds: Int64 = 0

    /// The time at the start of the current iteration (after the wait), so every handler in
    /// one batch sees the same instant and nobody pays for a clock read per event.
    public var now: ContinuousClock.Instant { self.instant(fromNanoseconds: self.nowNanoseconds) }

    /// `now` as nanoseconds since the loop started: for what is stamped per message, since making
    /// and copying an `Instant` costs tens of instructions each time. (A getter: another module
    /// reading the stored property would check exclusivity dynamically.)
    public var nowInNanoseconds: Int64 { self.nowNanoseconds }

    /// The instant `nanoseconds` (from `nowInNanoseconds`) stands for.
    public func instant(fromNanoseconds nanoseconds: Int64) -> ContinuousClock.Instant {
        self.epoch + .nanoseconds(nanoseconds)
    }

    @exclusivity(unchecked) var stopRequested = false
    /// The thread inside `run()`, if any.
    private var runningThread: pthread_t?
    private let wakeup: Wakeup
    /// Wakes the loop at the earliest timer deadline, so `epoll_wait` needs no timeout.
    private let deadlineTimer: DeadlineTimer
    var signals: SignalSource?
    /// Whether `close()` has run.
    public private(set) var isClosed = false

    /// Creates the epoll instance and the stop eventfd, and ignores SIGPIPE process-wide so
    /// that a write to a closed pipe is an EPIPE error rather than the end of the process.
    /// The corresponding C functions are `epoll_create1(2)` and `eventfd(2)`.
    public init() throws(SystemError) {
        try EventLoop.ignoreSIGPIPE()
        let raw = try systemCall("epoll_create1") { epoll_create1(CInt(EPOLL_CLOEXEC)) }
        self.epoll = FileDescriptor(rawValue: raw)
        do {
            self.wakeup = try Wakeup()
            self.deadlineTimer = try DeadlineTimer()
        } catch {
            try? self.epoll.close()
            throw error
        }
        self.events = .allocate(capacity: EventLoop.maximumEventsPerIteration)
        self.epoch = .now
        self.epochMonotonic = EventLoop.monotonicNanoseconds()
        do {
            _ = try self.register(self.wakeup.fd, interest: .readable, handler: WakeupHandler(loop: self))
            _ = try self.register(self.deadlineTimer.fd, interest: .readable,
                                  handler: DeadlineTimerHandler(self.deadlineTimer))
            self.userRegistrations = 0
        } catch {
            self.close()
            throw error
        }
    }

    deinit {
        if !self.isClosed {
            self.close()
        }
        self.events.deallocate()
    }

    /// Ignores SIGPIPE for the whole process. Idempotent; `init` calls it.
    /// The corresponding C function is `sigaction(2)`.
    public static func ignoreSIGPIPE() throws(SystemError) {
        _ = try systemCall("sigaction") { wsgate_ignore_sigpipe() }
    }

    /// A value any thread can use to stop this loop.
    public var stopHandle: StopHandle {
        StopHandle(wakeup: self.wakeup)
    }

    /// Descriptors registered by callers (the loop's own eventfd and signalfd not counted).
    public var registrationCount: Int {
        self.userRegistrations
    }

    /// Starts watching `fd`; `handler` is called on the loop thread whenever it is ready.
    ///
    /// Deregister before closing the descriptor: the kernel drops a closed descriptor from the
    /// epoll set silently, and the loop would still hold the handler.
    /// - Throws: `SystemError` ("epoll_ctl: EPERM" for a regular file, ENOMEM, ENOSPC).
    ///
    /// The corresponding C function is `epoll_ctl(2)` with EPOLL_CTL_ADD.
    public func register(_ fd: FileDescriptor, interest: Interest, handler: any EventHandler) throws(SystemError)
        -> Registration
    {
        precondition(!self.isClosed, "register on a closed EventLoop")
        self.assertOnLoopThread()
        let index = Int(fd.rawValue)
        precondition(index >= 0, "register: \(fd) is not a descriptor")
        if index >= self.slots.count {
            let grown = Swift.max(index + 1, self.slots.count * 2, 64)
            self.slots.append(contentsOf: repeatElement(Slot(), count: grown - self.slots.count))
        }
        precondition(self.slots[index].handler == nil, "register: \(fd) is already registered; deregister before close")
        let registration = Registration(fd: fd, generation: self.nextGeneration)
        self.nextGeneration &+= 1
        if self.nextGeneration == 0 {
            self.nextGeneration = 1
        }
        if !interest.isEmpty {
            try self.control(EPOLL_CTL_ADD, registration, interest)
        }
        self.slots[index] = Slot(handler: handler, generation: registration.generation, interest: interest)
        self.userRegistrations += 1
        return registration
    }

    /// Changes what a registration waits for. Does nothing when `interest` is unchanged.
    ///
    /// Empty interest removes the descriptor from the epoll set (the handler stays), so a
    /// paused reader is not woken over and over by a hang-up it cannot act on yet.
    /// - Throws: `SystemError` (ENOMEM, ENOSPC).
    ///
    /// The corresponding C function is `epoll_ctl(2)`.
    public func modify(_ registration: Registration, interest: Interest) throws(SystemError) {
        self.assertOnLoopThread()
        let index = Int(registration.fd.rawValue)
        precondition(
            index < self.slots.count && self.slots[index].generation == registration.generation
                && self.slots[index].handler != nil,
            "modify: \(registration) is not registered"
        )
        let current = self.slots[index].interest
        if current == interest {
            return
        }
        try self.changeInterest(registration, from: current, to: interest)
    }

    private func changeInterest(_ registration: Registration, from current: Interest, to interest: Interest) throws(SystemError) {
        if interest.isEmpty {
            try self.control(EPOLL_CTL_DEL, registration, interest)
        } else if current.isEmpty {
            try self.control(EPOLL_CTL_ADD, registration, interest)
        } else {
            try self.control(EPOLL_CTL_MOD, registration, interest)
        }
        self.slots[Int(registration.fd.rawValue)].interest = interest
    }

    /// The interest a registration currently has, or nil if it is no longer registered.
    public func interest(of registration: Registration) -> Interest? {
        let index = Int(registration.fd.rawValue)
        guard index < self.slots.count, self.slots[index].generation == registration.generation,
            self.slots[index].handler != nil
        else { return nil }
        return self.slots[index].interest
    }

    /// Stops watching a descriptor and releases its handler.
    ///
    /// Safe from inside any handler, including this registration's own: events for it that
    /// are already fetched in the current batch are dropped. Deregistering a registration
    /// that is already gone does nothing, so close paths can call it unconditionally.
    /// The corresponding C function is `epoll_ctl(2)` with EPOLL_CTL_DEL.
    public func deregister(_ registration: Registration) {
        self.assertOnLoopThread()
        let index = Int(registration.fd.rawValue)
        guard index < self.slots.count, self.slots[index].generation == registration.generation,
            self.slots[index].handler != nil
        else { return }
        if !self.slots[index].interest.isEmpty {
            // Only ENOMEM could fail a delete of a registered descriptor, and the kernel
            // drops the entry anyway once the descriptor is closed.
            try? self.control(EPOLL_CTL_DEL, registration, [])
        }
        // Generation 0 is never handed out, so a stale event cannot match this slot.
        self.slots[index] = Slot()
        self.userRegistrations -= 1
    }

    /// The corresponding C function is `epoll_ctl(2)`.
    private func control(_ operation: CInt, _ registration: Registration, _ interest: Interest) throws(SystemError) {
        var event = epoll_event()
        event.events = interest.epollEvents
        event.data.u64 = registration.userData
        let result = epoll_ctl(self.epoll.rawValue, operation, registration.fd.rawValue, &event)
        if result == -1 {
            let error = Errno(rawValue: errno)
            // EBADF, EEXIST, ENOENT and EINVAL all mean the loop's table and the kernel's
            // epoll set disagree: a descriptor closed before deregister, or a bug here.
            precondition(
                error != .badFileDescriptor && error.rawValue != EEXIST && error.rawValue != ENOENT,
                "epoll_ctl(\(operation), \(registration.fd)): \(error)"
            )
            throw SystemError(call: "epoll_ctl", errno: error)
        }
    }

    /// Queues `action` to run on the loop thread after the current iteration's events and
    /// timers, in the order queued. Use it to coalesce work, such as one flush per batch.
    ///
    /// An action queued by a `runSoon` action runs in the next iteration, which then does
    /// not block.
    public func runSoon(_ action: @escaping () -> Void) {
        self.assertOnLoopThread()
        self.deferred.append(action)
    }

    /// Asks `run()` to return after the current iteration. Loop thread only; from another
    /// thread use `stopHandle.stop()`.
    public func stop() {
        self.assertOnLoopThread()
        self.stopRequested = true
    }

    /// Runs iterations until `stop()` (here, or through a `StopHandle`).
    ///
    /// A stop requested before `run` makes it return after at most one iteration. `run` may
    /// be called again after it returns.
    /// - Throws: `SystemError` from `epoll_wait` (EINTR is not an error).
    ///
    /// The corresponding C function is `epoll_wait(2)`.
    public func run() throws(SystemError) {
        precondition(!self.isClosed, "run on a closed EventLoop")
        precondition(self.runningThread == nil, "EventLoop.run is not reentrant")
        self.runningThread = pthread_self()
        defer {
            self.runningThread = nil
            self.stopRequested = false
        }
        self.refreshNow()
        while !self.stopRequested {
            try self.runIteration()
        }
    }

    private func runIteration() throws(SystemError) {
        let timeout = self.waitTimeout()
        var count = epoll_wait(self.epoll.rawValue, self.events.baseAddress, CInt(self.events.count), timeout)
        if count == -1 {
            let error = Errno(rawValue: errno)
            guard error == .interrupted else { throw SystemError(call: "epoll_wait", errno: error) }
            count = 0
        }
        self.refreshNow()

        for index in 0..<Int(count) {
            let event = self.events[index]
            let registration = Registration(userData: event.data.u64)
            let slot = Int(registration.fd.rawValue)
            // A handler earlier in this batch may have deregistered this descriptor, and it
            // may even have been reused and registered again: the generation tells.
            guard slot < self.slots.count, self.slots[slot].generation == registration.generation,
                let handler = self.slots[slot].handler
            else { continue }
            handler.handle(Readiness(epollEvents: event.events))
        }

        let sequenceLimit = self.timers.nextSequence
        while let action = self.timers.popExpired(now: self.nowNanoseconds, sequenceLimit: sequenceLimit) {
            action()
        }

        if !self.deferred.isEmpty {
            swap(&self.deferred, &self.deferredRunning)
            for action in self.deferredRunning {
                action()
            }
            self.deferredRunning.removeAll(keepingCapacity: true)
        }
    }

    /// Debug builds check that nobody touches the loop from another thread while it runs.
    /// Before `run` the creating thread may set things up, and a loop may be handed to the
    /// thread that will run it.
    func assertOnLoopThread(_ function: StaticString = #function) {
        assert(
            self.runningThread.map { pthread_equal($0, pthread_self()) != 0 } ?? true,
            "EventLoop.\(function) called off the loop thread"
        )
    }

    /// 0 (do not block) with deferred work, else -1: the deadline timer, set here to the earliest
    /// timer's deadline, wakes the loop for timers.
    private func waitTimeout() -> CInt {
        if !self.deferred.isEmpty || self.stopRequested {
            return 0
        }
        self.deadlineTimer.arm(at: self.timers.earliestDeadline().map { $0 + self.epochMonotonic })
        return -1
    }

    private func refreshNow() {
        self.nowNanoseconds = EventLoop.monotonicNanoseconds() - self.epochMonotonic
    }

    /// The corresponding C function is `clock_gettime(2)` with CLOCK_MONOTONIC.
    private static func monotonicNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }

    /// Drops every handler, timer and deferred action and closes the epoll and signal
    /// descriptors. Registered descriptors are not closed: their owners do that.
    /// Handlers that hold the loop are released here, which breaks those cycles.
    public func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.slots = []
        self.timers = TimerQueue()
        self.deferred = []
        self.deferredRunning = []
        self.signals?.close()
        self.signals = nil
        try? self.epoll.close()
    }
}

@available(*, unavailable)
extension EventLoop: Sendable {}

/// Drains the stop eventfd and stops the loop.
private final class WakeupHandler: EventHandler {
    unowned let loop: EventLoop

    init(loop: EventLoop) {
        self.loop = loop
    }

    func handle(_ readiness: Readiness) {
        self.loop.stopHandle.wakeup.drain()
        self.loop.stopRequested = true
    }
}
