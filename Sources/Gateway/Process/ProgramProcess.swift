import Reactor

/// What a running program reports to whoever it serves: one session's bridge (`ProcessHandler`)
/// or a route's long-lived service (`SharedProgramService`, `FanoutService`). Calls come on the
/// loop thread.
protocol ProgramProcessOwner: AnyObject {
    /// Bytes read from the program's stdout (or its terminal).
    func program(_ program: ProgramProcess, didOutput bytes: UnsafeRawBufferPointer)
    /// Everything readable on stdout in this wake-up has been handed over: a point to flush.
    func programDidFinishOutputBatch(_ program: ProgramProcess)
    /// stdout reached its end (every writer closed it, or the terminal hung up).
    func programOutputDidEnd(_ program: ProgramProcess)
    /// The program exited and was reaped.
    func program(_ program: ProgramProcess, didExit status: ChildProcess.ExitStatus)
    /// Input waiting for stdin went over `maxQueuedBytes` (true), or back under half of it (false).
    func program(_ program: ProgramProcess, inputIsFull full: Bool)
}

/// One running program and everything wsgate owns of it: its pipes (or pseudo-terminal), the input
/// waiting for its stdin, its stderr going to the log, its exit, and stopping its process group.
///
/// It knows nothing of sessions: what its output means is the owner's business. The gateway holds
/// it (`GatewayServer.programs`) from spawn until its whole process group is gone and it has been
/// reaped, however long its owner lives: no zombie, no descriptor outlives it.
///
/// On a pseudo-terminal one descriptor carries both directions, so ending input closes it and
/// hangs the terminal up (the kernel sends SIGHUP) rather than closing a stdin of its own.
final class ProgramProcess {
    let child: ChildProcess
    let command: String
    /// The session's UNIQUE_ID, which the program's descendants inherit: how leftovers are found.
    let uniqueID: String?
    /// The cgroup holding the program and everything it starts, when cgroups are used.
    var controlGroup: ControlGroup? { self.child.controlGroup }
    /// The route whose per-session programs this one counts toward (`--maxforks`, and the route's
    /// own `maxforks`); nil for a route's long-lived program, which counts toward no bound.
    let countedRoute: String?
    /// The stdin queue's bound and the termination steps' extra grace: the route's settings when
    /// the program started.
    let maxQueuedBytes: Int
    let closeGrace: Duration
    unowned let server: GatewayServer
    var log: Log
    /// Strong until the program is released: a weak reference would slow every retain of the
    /// owner. `release()` breaks the cycle.
    var owner: (any ProgramProcessOwner)?

    /// stdin's pipe; nil on a terminal, which `output` carries both ways.
    private let input: PipeWatcher?
    /// stdout's pipe, or the terminal.
    private let output: PipeWatcher
    private let errors: PipeWatcher?
    private var stderrLines = LineSplitter(maxLineLength: 4096)
    /// 100 stderr lines a second (200 at once) are logged; the rest are counted, and while none
    /// could be logged stderr is not read at all (the pipe fills, the program waits).
    private var stderrBudget = LineBudget(perSecond: 100, burst: 200)
    private var stderrSuppressed = 0
    private var stderrSummaryTimer: TimerID?
    private var stderrResumeTimer: TimerID?
    private var inputQueue: [UInt8] = []
    private var inputQueueStart = 0
    private var inputWriteScheduled = false
    private var inputEnded = false
    /// `finishInput` was asked for: stdin closes once the queue is written.
    private var endInputWhenWritten = false
    private var waitingForWritable = false
    private var inputFull = false
    private var outputPaused = false
    private var outputStarted = false
    private(set) var exitStatus: ChildProcess.ExitStatus?
    private var termination: Termination?
    private(set) var isReleased = false

    /// Starts `command` with `environment`, its stdin and stdout on pipes or on a pseudo-terminal,
    /// its stderr on a pipe. - Throws: the spawn's `SystemError`.
    convenience init(spawning executable: String, command: ProgramCommand, environment: [String: String],
                     terminal: Bool, controlGroup: ControlGroup?, countedRoute: String?, settings: RouteSettings,
                     server: GatewayServer, log: Log) throws(SystemError) {
        let child = try ChildProcess.spawn(
            executable: executable, arguments: command.arguments, environment: environment,
            standardInput: terminal ? .terminal : .pipe, standardOutput: terminal ? .terminal : .pipe,
            standardError: .pipe, controlGroup: controlGroup)
        try self.init(adopting: child, command: command, environment: environment,
                      countedRoute: countedRoute, settings: settings, server: server, log: log)
    }

    /// Takes over a child already started (by `SpawnWorkers`, off the loop thread) with its stdin
    /// and stdout on pipes or a terminal and its stderr on a pipe.
    /// - Throws: registering its exit with the loop; the child is then killed and reaped.
    init(adopting child: ChildProcess, command: ProgramCommand, environment: [String: String],
         countedRoute: String?, settings: RouteSettings, server: GatewayServer, log: Log) throws(SystemError) {
        self.child = child
        self.command = command.description
        self.uniqueID = environment["UNIQUE_ID"]
        self.countedRoute = countedRoute
        self.maxQueuedBytes = settings.maxQueuedBytes
        self.closeGrace = settings.closeGrace
        self.server = server
        self.log = log.with("pid", self.child.pid)
        if let terminal = self.child.terminal {
            self.input = nil
            self.output = PipeWatcher(terminal)
        } else {
            self.input = PipeWatcher(self.child.standardInput!)
            self.output = PipeWatcher(self.child.standardOutput!)
        }
        self.errors = self.child.standardError.map(PipeWatcher.init)
        if let input = self.input {
            input.onReady = { [unowned self] _ in self.writeInput() }
            self.output.onReady = { [unowned self] _ in self.readOutput() }
        } else {
            self.output.onReady = { [unowned self] readiness in
                if readiness.contains(.writable) { self.writeInput() }
                if !readiness.isDisjoint(with: [.readable, .hangup, .error]) { self.readOutput() }
            }
        }
        self.errors?.onReady = { [unowned self] _ in self.readStderr() }
        do throws(SystemError) {
            // The loop holds the child, and through this closure this object, until it is reaped.
            try self.child.onExit(in: server.loop) { status in self.childExited(status) }
        } catch {
            // Not watched means never reaped: kill and reap it now rather than leak a zombie.
            self.kill()
            throw error
        }
    }

    var pid: Int32 { self.child.pid }
    var isOutputClosed: Bool { self.output.isClosed }
    /// Input accepted and not yet written to the program.
    var queuedInputBytes: Int { self.inputQueue.count - self.inputQueueStart }

    /// Starts reading stdout and stderr; output before this waits in the pipe.
    func startReading() {
        self.outputStarted = true
        self.updateInterest()
        if let errors = self.errors { self.watch(errors, .readable) }
    }

    // MARK: Input

    /// Queues bytes for stdin; everything queued in one batch of events goes in one write.
    func write(_ bytes: some Sequence<UInt8>) {
        guard !self.inputEnded else { return }
        self.inputQueue.append(contentsOf: bytes)
        self.scheduleInputWrite()
    }

    /// Queues bytes for stdin with `body`, which appends to the queue directly (no copy).
    func write(_ body: (inout [UInt8]) -> Void) {
        guard !self.inputEnded else { return }
        body(&self.inputQueue)
        self.scheduleInputWrite()
    }

    private func scheduleInputWrite() {
        guard !self.inputWriteScheduled else { return }
        self.inputWriteScheduled = true
        self.server.loop.runSoon { [self] in self.writeInput() }
    }

    /// Writes what is queued now, then ends the program's input: closes stdin, or on a terminal
    /// hangs it up. What the program has not read by then is dropped.
    func endInput() {
        guard !self.inputEnded else { return }
        self.writeInput()
        self.inputEnded = true
        self.dropInput()
        if let input = self.input {
            input.close(in: self.server.loop)
        } else {
            self.output.close(in: self.server.loop)
        }
    }

    /// Closes stdin once everything queued has been written (a CGI request body), however long
    /// the program takes to read it; unlike `endInput`, which drops what it has not read.
    func finishInput() {
        guard !self.inputEnded else { return }
        self.endInputWhenWritten = true
        if self.queuedInputBytes == 0 { self.endInput() } else { self.scheduleInputWrite() }
    }

    private func writeInput() {
        self.inputWriteScheduled = false
        guard self.queuedInputBytes > 0, !self.inputEnded else { return }
        let end = self.input?.end ?? self.output.end
        while self.inputQueueStart < self.inputQueue.count {
            let result = self.inputQueue.withUnsafeBytes { bytes in
                Result { () throws(SystemError) in
                    try end.write(UnsafeRawBufferPointer(rebasing: bytes[self.inputQueueStart...]))
                }
            }
            switch result {
            case .success(.processed(let count)):
                self.inputQueueStart += count
            case .success(.wouldBlock):
                self.waitingForWritable = true
                self.updateInterest()
                self.applyInputBackpressure()
                return
            case .failure(let error):
                // EPIPE: the program closed its stdin or exited (EIO on a terminal); what it did
                // not read is dropped. A terminal stays open: its output may still hold lines.
                self.log.debug("process.stdin_closed", [("error", error)])
                self.inputEnded = true
                self.dropInput()
                self.input?.close(in: self.server.loop)
                self.updateInterest()
                return
            }
        }
        self.inputQueue.removeAll(keepingCapacity: self.inputQueue.capacity <= 64 * 1024)
        self.inputQueueStart = 0
        self.waitingForWritable = false
        if self.endInputWhenWritten {
            self.endInput()
            return
        }
        self.updateInterest()
        self.applyInputBackpressure()
    }

    private func dropInput() {
        self.inputQueue = []
        self.inputQueueStart = 0
        self.waitingForWritable = false
        self.applyInputBackpressure()
    }

    private func applyInputBackpressure() {
        let limit = self.maxQueuedBytes
        let waiting = self.queuedInputBytes
        if !self.inputFull && waiting > limit {
            self.inputFull = true
            self.owner?.program(self, inputIsFull: true)
        } else if self.inputFull && waiting <= limit / 2 {
            self.inputFull = false
            self.owner?.program(self, inputIsFull: false)
        }
    }

    // MARK: Output

    /// Stops reading stdout (the pipe fills and the program blocks) until `resumeOutput`.
    func pauseOutput() {
        guard !self.outputPaused else { return }
        self.outputPaused = true
        self.updateInterest()
    }

    func resumeOutput() {
        guard self.outputPaused else { return }
        self.outputPaused = false
        self.updateInterest()
    }

    private func readOutput() {
        guard !self.output.isClosed else { return }
        // A pipe holds 64 KiB: no use reading more at once, and binary mode's messages stay that size.
        let buffer = UnsafeMutableRawBufferPointer(rebasing: self.server.readBuffer[..<(64 * 1024)])
        for _ in 0..<4 {
            let result = Result { () throws(SystemError) in try self.output.end.read(into: buffer) }
            guard case .success(.processed(let count)) = result, count > 0 else {
                if case .success(.wouldBlock) = result { break }
                self.outputEnded()
                return
            }
            self.owner?.program(self, didOutput: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            if self.outputPaused || self.output.isClosed || count < buffer.count { break }
        }
        self.owner?.programDidFinishOutputBatch(self)
    }

    private func outputEnded() {
        self.output.close(in: self.server.loop)
        if self.input == nil { self.inputEnded = true }
        self.log.debug("process.stdout_closed")
        self.owner?.programOutputDidEnd(self)
    }

    /// The registrations follow what is wanted: stdout while reading and not paused, stdin (or the
    /// terminal) writable while input waits.
    private func updateInterest() {
        let reading: Interest = self.outputStarted && !self.outputPaused ? .readable : []
        let writing: Interest = self.waitingForWritable && !self.inputEnded ? .writable : []
        if let input = self.input {
            if !input.isClosed { self.watch(input, writing) }
            if !self.output.isClosed { self.watch(self.output, reading) }
        } else if !self.output.isClosed {
            self.watch(self.output, reading.union(writing))
        }
    }

    /// Registers or changes a pipe's interest. If epoll refuses (ENOMEM, ENOSPC), that pipe is
    /// given up rather than left unwatched: its output would never be read, its input never
    /// written. Losing stdout ends the program (the session then closes with its status).
    private func watch(_ watcher: PipeWatcher, _ interest: Interest) {
        do throws(SystemError) {
            try watcher.watch(in: self.server.loop, interest)
        } catch {
            self.log.error("process.epoll_error", [("error", error)])
            if watcher === self.output {
                self.outputEnded()
                self.terminate()
            } else if watcher === self.input {
                self.inputEnded = true
                self.dropInput()
                watcher.close(in: self.server.loop)
            } else {
                watcher.close(in: self.server.loop)
            }
        }
    }

    // MARK: stderr

    private func readStderr() {
        guard let errors = self.errors else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let result = buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(SystemError) in try errors.end.read(into: bytes) }
        }
        guard case .success(.processed(let count)) = result, count > 0 else {
            if case .success(.wouldBlock) = result { return }
            self.stderrLines.finish { self.logStderr($0) }
            errors.close(in: self.server.loop)
            return
        }
        buffer.withUnsafeBytes { bytes in
            self.stderrLines.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<count])) { self.logStderr($0) }
        }
        let now = self.server.loop.now
        if self.stderrBudget.isExhausted(at: now), self.stderrResumeTimer == nil {
            // Out of budget: stop reading for a moment rather than read and discard at full speed.
            self.watch(errors, [])
            self.stderrResumeTimer = self.server.loop.schedule(after: .milliseconds(100)) { [self] in
                self.stderrResumeTimer = nil
                guard !self.isReleased, let errors = self.errors, !errors.isClosed else { return }
                self.watch(errors, .readable)
            }
        }
    }

    private func logStderr(_ line: UnsafeRawBufferPointer) {
        guard self.stderrBudget.allow(at: self.server.loop.now) else {
            self.stderrSuppressed += 1
            if self.stderrSummaryTimer == nil {
                self.stderrSummaryTimer = self.server.loop.schedule(after: .seconds(1)) { [self] in
                    self.stderrSummaryTimer = nil
                    self.logSuppressedStderr()
                }
            }
            return
        }
        self.log.stderr("process.stderr", [("line", String(decoding: line, as: UTF8.self))])
    }

    /// One line per interval for what the budget kept out of the log.
    private func logSuppressedStderr() {
        guard self.stderrSuppressed > 0 else { return }
        self.log.error("process.stderr_suppressed", [("lines", self.stderrSuppressed)])
        self.stderrSuppressed = 0
    }

    // MARK: Exit and termination

    private func childExited(_ status: ChildProcess.ExitStatus) {
        self.exitStatus = status
        if let route = self.countedRoute { self.server.childDidExit(countedFor: route) }
        if self.server.configuration.containsOrphans { self.server.reapOrphans() }
        // Per-session detail (trace): a long-lived program's exit has its own line (`shared.exit`).
        self.log.trace("process.exit", [("status", status)])
        // The owner hears of the exit first: releasing lets go of it.
        self.owner?.program(self, didExit: status)
        if let termination = self.termination {
            // Every step has been tried: nothing more will come of waiting for the group.
            if termination.nextStep == nil { self.release() } else { self.releaseIfGroupGone() }
        }
    }

    /// Ends input, keeps draining stdout (a program flushing on its way out never blocks), and
    /// stops the whole process group step by step (`TerminationPlan`) until it is gone.
    func terminate() {
        guard self.termination == nil, !self.isReleased else { return }
        self.endInput()
        self.outputStarted = true
        self.resumeOutput()
        self.updateInterest()
        let plan = TerminationPlan.standard(closeGrace: self.closeGrace)
        self.termination = Termination(plan: plan)
        self.releaseIfGroupGone()
        if !self.isReleased { self.scheduleNextTerminationStep() }
    }

    var isTerminating: Bool { self.termination != nil }

    private func scheduleNextTerminationStep() {
        guard let termination = self.termination, let step = termination.nextStep else {
            // After SIGKILL, give the kernel a moment, then let go whatever happens.
            self.server.loop.schedule(after: .seconds(1)) { [self] in self.release() }
            return
        }
        // Strong captures throughout: the server owns this until `release`, and every callback
        // does nothing once released.
        termination.timer = self.server.loop.schedule(after: step.graceBefore) { [self] in
            guard let termination = self.termination else { return }
            termination.advance()
            if self.child.isGroupAlive {
                if case .signal(let signal) = step.step {
                    self.log.debug("process.signal", [("signal", signal)])
                    try? self.child.signalGroup(signal)
                }
                self.scheduleNextTerminationStep()
            } else {
                self.release()
            }
        }
    }

    private func releaseIfGroupGone() {
        guard self.exitStatus != nil, !self.child.isGroupAlive else { return }
        self.release()
    }

    /// Everything is over: close the descriptors and the child's handle, and let the owner go.
    private func release() {
        guard !self.isReleased else { return }
        if let timer = self.termination?.timer { self.server.loop.cancel(timer) }
        guard self.exitStatus != nil else {
            // Not reaped yet (SIGKILL still pending in the kernel): the exit watcher calls back.
            return
        }
        self.isReleased = true
        self.termination = nil
        self.closeDescriptors()
        self.owner = nil
        self.server.programDidRelease(self)
    }

    /// The gateway is exiting and its loop has stopped: kill what is left of the group and reap it
    /// now. PR_SET_PDEATHSIG would kill the program anyway, but not its background children.
    func kill() {
        guard !self.isReleased else { return }
        try? self.child.signalGroup(.kill)
        if self.exitStatus == nil { self.exitStatus = try? self.child.waitForExit() }
        self.termination = nil
        self.isReleased = true
        self.closeDescriptors()
        self.owner = nil
    }

    private func closeDescriptors() {
        for timer in [self.stderrSummaryTimer, self.stderrResumeTimer].compactMap({ $0 }) { self.server.loop.cancel(timer) }
        self.stderrSummaryTimer = nil
        self.stderrResumeTimer = nil
        self.logSuppressedStderr()
        self.input?.close(in: self.server.loop)
        self.output.close(in: self.server.loop)
        self.errors?.close(in: self.server.loop)
        self.child.close()
    }
}

/// Where a termination plan is.
final class Termination {
    let plan: TerminationPlan
    private var index = 0
    var timer: TimerID?

    init(plan: TerminationPlan) {
        self.plan = plan
    }

    var nextStep: (step: TerminationPlan.Step, graceBefore: Duration)? {
        self.index < self.plan.steps.count ? self.plan.steps[self.index] : nil
    }

    func advance() { self.index += 1 }
}
