import Reactor
import WebSocket

/// Serves a session with a program of its own: client messages go to the program's stdin, its
/// stdout comes back as messages, its stderr goes to the log (the stdio contract in DESIGN.md).
///
/// Line mode: a text message is written with `\n` after it; each stdout line is a text message
/// (bytes that are not UTF-8 become U+FFFD, so no invalid text frame is ever sent; a line longer
/// than the message limit goes out in pieces). Binary mode: bytes pass through unchanged both ways.
///
/// Both directions are bounded. Messages received in one read go to the child in one write; when
/// its stdin pipe is full and `maxQueuedBytes` are waiting, the client is no longer read (TCP pushes
/// back). Lines read from stdout at once go out in one `writev`; when the client's queue is full,
/// stdout is no longer read (the pipe fills and the program blocks).
final class ProcessHandler: SessionHandler {
    let child: ChildProcess
    let binary: Bool
    let command: String
    unowned let server: GatewayServer
    /// Strong, and set to nil when the session ends: a weak reference would put the session's
    /// reference counts in a side table and slow every retain of it on the message path.
    var session: Session?
    var log: Log
    private let stdin: PipeWatcher
    private let stdout: PipeWatcher
    private let stderr: PipeWatcher
    private var lines: LineSplitter
    private var stderrLines: LineSplitter
    private var stdinQueue: [UInt8] = []
    private var stdinQueueStart = 0
    private var stdinWriteScheduled = false
    private var stdoutPaused = false
    private var exitStatus: ChildProcess.ExitStatus?
    private var sessionEnded = false
    private var finishTimer: TimerID?
    private var termination: Termination?
    /// The client sent its close; the reply waits for the program (see `sessionDidReceiveClose`).
    private var clientClosed = false

    init(child: ChildProcess, command: String, binary: Bool, session: Session, server: GatewayServer) {
        self.child = child
        self.command = command
        self.binary = binary
        self.server = server
        self.session = session
        self.log = session.log.with("pid", child.pid)
        self.lines = LineSplitter(maxLineLength: server.configuration.maxMessageSize)
        self.stderrLines = LineSplitter(maxLineLength: 4096)
        self.stdin = PipeWatcher(child.standardInput!)
        self.stdout = PipeWatcher(child.standardOutput!)
        self.stderr = PipeWatcher(child.standardError!)
        self.stdin.onReady = { [unowned self] _ in self.writeStdin() }
        self.stdout.onReady = { [unowned self] _ in self.readStdout() }
        self.stderr.onReady = { [unowned self] _ in self.readStderr() }
        // The loop holds the child (and through this closure, the handler) until it is reaped.
        try? child.onExit(in: server.loop) { status in self.childExited(status) }
    }

    // MARK: Session events

    func sessionDidOpen(_ session: Session) {
        // The session's log has the path only from here on; stderr lines must name the route too.
        self.log = session.log.with("pid", self.child.pid)
        self.log.info("process.start", [("command", self.command)])
        self.stdout.watch(in: self.server.loop, .readable)
        self.stderr.watch(in: self.server.loop, .readable)
    }

    func session(_ session: Session, didReceive message: Message) {
        switch message {
        case .text(let text):
            self.stdinQueue.append(contentsOf: text.utf8)
            if !self.binary { self.stdinQueue.append(0x0A) }
        case .binary(let bytes):
            guard self.binary else {
                session.close(code: .unsupportedData, reason: "binary message on a line-mode route; use --binary")
                return
            }
            self.stdinQueue.append(contentsOf: bytes)
        }
        if !self.stdinWriteScheduled {
            // Everything received in this read goes to the child in one write, after the batch.
            self.stdinWriteScheduled = true
            self.server.loop.runSoon { [self] in self.writeStdin() }
        }
    }

    func sessionDidDrainOutput(_ session: Session) {
        if self.stdoutPaused {
            self.stdoutPaused = false
            self.stdout.watch(in: self.server.loop, .readable)
        }
    }

    /// The client closed: end the program's input and start stopping it at websocketd's pace, but
    /// hold the close reply until it has exited and its last output has been sent.
    func sessionDidReceiveClose(_ session: Session) -> Bool {
        guard self.exitStatus == nil || !self.stdout.isClosed else { return false }
        self.clientClosed = true
        self.writeStdin()  // what the client sent before its close still goes in
        self.stdin.close(in: self.server.loop)
        self.stdinQueue = []
        self.terminateGroup()
        return true
    }

    func sessionDidClose(_ session: Session, code: CloseCode, reason: String) {
        self.sessionEnded = true
        self.session = nil
        self.cancelFinishTimer()
        // End of input first: many programs exit on it and never need a signal.
        self.stdin.close(in: self.server.loop)
        self.stdinQueue = []
        // Keep draining stdout (discarding it) so a program flushing output on its way out never blocks.
        if self.stdoutPaused {
            self.stdoutPaused = false
            self.stdout.watch(in: self.server.loop, .readable)
        }
        self.releaseIfGroupGone()
        if self.termination == nil && !self.released { self.terminateGroup() }
    }

    // MARK: stdin

    private func writeStdin() {
        self.stdinWriteScheduled = false
        guard self.stdinQueueStart < self.stdinQueue.count else { return }
        guard !self.stdin.isClosed else {
            self.stdinQueue = []
            return
        }
        while self.stdinQueueStart < self.stdinQueue.count {
            let result = self.stdinQueue.withUnsafeBytes { bytes in
                Result { () throws(SystemError) in
                    try self.stdin.end.write(UnsafeRawBufferPointer(rebasing: bytes[self.stdinQueueStart...]))
                }
            }
            switch result {
            case .success(.processed(let count)):
                self.stdinQueueStart += count
            case .success(.wouldBlock):
                self.stdin.watch(in: self.server.loop, .writable)
                self.applyStdinBackpressure()
                return
            case .failure(let error):
                // EPIPE: the program closed its stdin or exited; what it did not read is dropped.
                self.log.debug("process.stdin_closed", [("error", error)])
                self.stdin.close(in: self.server.loop)
                self.stdinQueue = []
                self.stdinQueueStart = 0
                self.session?.pauseReadingForHandler(false)
                return
            }
        }
        self.stdinQueue.removeAll(keepingCapacity: self.stdinQueue.capacity <= 64 * 1024)
        self.stdinQueueStart = 0
        self.stdin.watch(in: self.server.loop, [])
        self.applyStdinBackpressure()
    }

    private func applyStdinBackpressure() {
        let waiting = self.stdinQueue.count - self.stdinQueueStart
        let limit = self.server.configuration.maxQueuedBytes
        if waiting > limit {
            self.session?.pauseReadingForHandler(true)
        } else if waiting <= limit / 2 {
            self.session?.pauseReadingForHandler(false)
        }
    }

    // MARK: stdout

    private func readStdout() {
        let buffer = self.server.readBuffer
        for _ in 0..<4 {
            let result = Result { () throws(SystemError) in try self.stdout.end.read(into: buffer) }
            guard case .success(.processed(let count)) = result, count > 0 else {
                if case .success(.wouldBlock) = result { break }
                self.stdoutEnded()
                return
            }
            self.deliver(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            if count < buffer.count { break }
        }
        guard let session = self.session else { return }
        // Everything read now goes out in one writev.
        session.flush()
        if session.queuedBytes > self.server.configuration.maxQueuedBytes {
            self.stdoutPaused = true
            self.stdout.watch(in: self.server.loop, [])
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard let session = self.session else { return }  // the session is over: discard
        if self.binary {
            session.send(binary: Array(bytes))
            return
        }
        self.lines.feed(bytes) { line in self.sendLine(line, on: session) }
    }

    private func sendLine(_ line: UnsafeRawBufferPointer, on session: Session) {
        if UTF8Validator.isValid(line) {
            session.send(textUTF8: line)
        } else {
            // Never an invalid text frame: undecodable bytes become U+FFFD.
            session.send(text: String(decoding: line, as: UTF8.self))
        }
    }

    private func stdoutEnded() {
        if let session = self.session, !self.binary {
            self.lines.finish { line in self.sendLine(line, on: session) }
            session.flush()
        }
        self.stdout.close(in: self.server.loop)
        self.log.debug("process.stdout_closed")
        self.finishIfDone()
    }

    // MARK: stderr

    private func readStderr() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let result = buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(SystemError) in try self.stderr.end.read(into: bytes) }
        }
        guard case .success(.processed(let count)) = result, count > 0 else {
            if case .success(.wouldBlock) = result { return }
            self.stderrLines.finish { self.logStderr($0) }
            self.stderr.close(in: self.server.loop)
            return
        }
        buffer.withUnsafeBytes { bytes in
            self.stderrLines.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<count])) { self.logStderr($0) }
        }
    }

    private func logStderr(_ line: UnsafeRawBufferPointer) {
        self.log.error("process.stderr", [("line", String(decoding: line, as: UTF8.self))])
    }

    // MARK: Exit and termination

    private func childExited(_ status: ChildProcess.ExitStatus) {
        self.exitStatus = status
        self.server.childDidExit()
        self.log.info("process.exit", [("status", status)])
        if self.sessionEnded {
            self.releaseIfGroupGone()
            return
        }
        // Its remaining output is flushed to the client first; a background process that still
        // holds stdout open gets 100 ms (plus --closems) before the session closes anyway.
        if !self.stdout.isClosed { self.armFinishTimer() }
        self.finishIfDone()
    }

    /// Closes the session after the exit even though stdout is still open (a background process
    /// holds it). While stdout is paused for a slow client, what is left in the pipe is the
    /// program's own last output, not a background process's: the wait starts over until it is read.
    private func armFinishTimer() {
        self.finishTimer = self.server.loop.schedule(after: .milliseconds(100) + self.server.configuration.closeGrace) {
            [self] in
            self.finishTimer = nil
            if self.stdoutPaused && self.session != nil {
                self.armFinishTimer()
            } else {
                self.closeSession()
            }
        }
    }

    private func finishIfDone() {
        guard self.exitStatus != nil, self.stdout.isClosed, !self.sessionEnded else { return }
        self.cancelFinishTimer()
        self.closeSession()
    }

    /// Program exit → close: 1000 for status 0, 1011 with the status or signal otherwise; or, when
    /// the client closed first, the reply it has been waiting for.
    private func closeSession() {
        guard let session = self.session, let status = self.exitStatus else { return }
        if self.clientClosed {
            session.finishClosing()
            return
        }
        if status.isSuccess {
            session.close(code: .normalClosure, reason: "")
        } else {
            session.close(code: .internalError, reason: "program \(status)")
        }
    }

    private func cancelFinishTimer() {
        if let timer = self.finishTimer {
            self.server.loop.cancel(timer)
            self.finishTimer = nil
        }
    }

    /// Stops the program's whole process group, step by step, once its session is over.
    private func terminateGroup() {
        let plan = TerminationPlan.standard(closeGrace: self.server.configuration.closeGrace)
        self.termination = Termination(plan: plan)
        self.releaseIfGroupGone()
        if !self.released { self.scheduleNextTerminationStep() }
    }

    private func scheduleNextTerminationStep() {
        guard let termination = self.termination, let step = termination.nextStep else {
            // After SIGKILL, give the kernel a moment, then let go whatever happens.
            self.server.loop.schedule(after: .seconds(1)) { [self] in self.release() }
            return
        }
        // Strong captures throughout: the server owns the handler until `release`, and every
        // callback does nothing once released.
        termination.timer = self.server.loop.schedule(after: step.graceBefore) { [self] in
            guard let termination = self.termination else { return }
            termination.advance()
            if self.groupIsAlive() {
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
        guard self.exitStatus != nil, !self.groupIsAlive() else { return }
        self.release()
    }

    /// Whether anything is left in the program's process group. The leader counts until reaped.
    private func groupIsAlive() -> Bool {
        self.child.isGroupAlive
    }

    private var released = false

    /// Everything is over: close the pipes and the child's handle.
    private func release() {
        guard !self.released else { return }
        if let timer = self.termination?.timer { self.server.loop.cancel(timer) }
        guard self.exitStatus != nil else {
            // Not reaped yet (SIGKILL still pending in the kernel): the exit watcher calls back.
            self.termination = nil
            self.sessionEnded = true
            return
        }
        self.released = true
        self.termination = nil
        self.stdin.close(in: self.server.loop)
        self.stdout.close(in: self.server.loop)
        self.stderr.close(in: self.server.loop)
        self.child.close()
        self.server.programDidRelease(self)
    }

    /// The gateway is exiting and its loop has stopped: kill what is left of the group and reap it
    /// now. PR_SET_PDEATHSIG would kill the program anyway, but not its background children.
    func kill() {
        guard !self.released else { return }
        try? self.child.signalGroup(.kill)
        if self.exitStatus == nil { self.exitStatus = try? self.child.waitForExit() }
        self.termination = nil
        self.released = true
        self.stdin.close(in: self.server.loop)
        self.stdout.close(in: self.server.loop)
        self.stderr.close(in: self.server.loop)
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
