import Reactor
import WebSocket

/// Serves a session with a program of its own (modes `lines`, `binary`, `pty`): client messages go
/// to the program's stdin, its stdout comes back as messages (the stdio contract in DESIGN.md).
///
/// Line mode (and pty): a text message is written with `\n` after it; each stdout line is a text
/// message (bytes that are not UTF-8 become U+FFFD, so no invalid text frame is ever sent; a line
/// longer than the message limit goes out in pieces). Binary mode: bytes pass through unchanged.
///
/// Both directions are bounded. Messages received in one read go to the child in one write; when
/// `maxQueuedBytes` wait for its stdin, the client is no longer read (TCP pushes back). Lines read
/// from stdout at once go out in one `writev`; when the client's queue is full, stdout is no longer
/// read (the pipe fills and the program blocks).
final class ProcessHandler: SessionHandler, ProgramProcessOwner {
    let program: ProgramProcess
    let mode: ProgramMode
    unowned let server: GatewayServer
    /// Strong, and set to nil when the session ends: a weak reference would put the session's
    /// reference counts in a side table and slow every retain of it on the message path.
    var session: Session?
    private var lines: LineSplitter
    private var stdoutPaused = false
    private var sessionEnded = false
    private var finishTimer: TimerID?
    /// The client sent its close; the reply waits for the program (see `sessionDidReceiveClose`).
    private var clientClosed = false

    init(program: ProgramProcess, mode: ProgramMode, session: Session, server: GatewayServer) {
        self.program = program
        self.mode = mode
        self.server = server
        self.session = session
        self.lines = LineSplitter(maxLineLength: session.settings.maxMessageSize)
        program.owner = self
    }

    private var binary: Bool { self.mode == .binary }

    // MARK: Session events

    func sessionDidOpen(_ session: Session) {
        // The session's log has the path only from here on; stderr lines must name the route too.
        self.program.log = session.log.with("pid", self.program.pid)
        self.program.log.trace("process.start", [("command", self.program.command), ("mode", self.mode)])
        self.program.startReading()
    }

    func session(_ session: Session, didReceive message: Message) {
        switch message {
        case .text(let text):
            let binary = self.binary
            self.program.write { queue in
                queue.append(contentsOf: text.utf8)
                if !binary { queue.append(0x0A) }
            }
        case .binary(let bytes):
            guard self.binary else {
                session.close(code: .unsupportedData, reason: "binary message on a \(self.mode)-mode route; use --binary or binary:COMMAND")
                return
            }
            self.program.write(bytes)
        }
    }

    /// The same, from the lent bytes: a message goes to stdin with one copy.
    func session(_ session: Session, didReceive bytes: UnsafeRawBufferPointer, isText: Bool) {
        guard isText || self.binary else {
            return self.session(session, didReceive: .binary(Array(bytes)))  // refused there
        }
        let newline = isText && !self.binary
        self.program.write { queue in
            queue.append(contentsOf: bytes)
            if newline { queue.append(0x0A) }
        }
    }

    func sessionDidDrainOutput(_ session: Session) {
        if self.stdoutPaused {
            self.stdoutPaused = false
            self.program.resumeOutput()
        }
    }

    /// The client closed: end the program's input and start stopping it at websocketd's pace, but
    /// hold the close reply until it has exited and its last output has been sent.
    func sessionDidReceiveClose(_ session: Session) -> Bool {
        guard self.program.exitStatus == nil || !self.program.isOutputClosed else { return false }
        self.clientClosed = true
        self.program.terminate()
        return true
    }

    func sessionDidClose(_ session: Session, code: CloseCode, reason: String) {
        self.sessionEnded = true
        self.session = nil
        self.cancelFinishTimer()
        // End of input first: many programs exit on it and never need a signal. Output is drained
        // and discarded from here on.
        self.program.terminate()
    }

    // MARK: Program events

    func program(_ program: ProgramProcess, didOutput bytes: UnsafeRawBufferPointer) {
        guard let session = self.session else { return }  // the session is over: discard
        if self.binary {
            session.send(binary: Array(bytes))
            return
        }
        self.lines.feed(bytes) { line in self.sendLine(line, on: session) }
    }

    func programDidFinishOutputBatch(_ program: ProgramProcess) {
        guard let session = self.session else { return }
        // Everything read now goes out in one writev.
        session.flush()
        if session.queuedBytes > session.settings.maxQueuedBytes {
            self.stdoutPaused = true
            program.pauseOutput()
        }
    }

    private func sendLine(_ line: UnsafeRawBufferPointer, on session: Session) {
        if UTF8Validator.isValid(line) {
            session.send(textUTF8: line)
        } else {
            // Never an invalid text frame: undecodable bytes become U+FFFD, and the repaired text
            // still goes out in pieces within the message limit.
            TextLine.pieces(of: line, limit: session.settings.maxMessageSize) { session.send(textUTF8: $0) }
        }
    }

    func programOutputDidEnd(_ program: ProgramProcess) {
        if let session = self.session, !self.binary {
            self.lines.finish { line in self.sendLine(line, on: session) }
            session.flush()
        }
        self.finishIfDone()
    }

    func program(_ program: ProgramProcess, inputIsFull full: Bool) {
        self.session?.pauseReadingForHandler(full)
    }

    func program(_ program: ProgramProcess, didExit status: ChildProcess.ExitStatus) {
        guard !self.sessionEnded else { return }
        // Its remaining output is flushed to the client first; a background process that still
        // holds stdout open gets 100 ms (plus --closems) before the session closes anyway.
        if !program.isOutputClosed { self.armFinishTimer() }
        self.finishIfDone()
    }

    // MARK: Closing the session

    /// Closes the session after the exit even though stdout is still open (a background process
    /// holds it). While stdout is paused for a slow client, what is left in the pipe is the
    /// program's own last output, not a background process's: the wait starts over until it is read.
    private func armFinishTimer() {
        self.finishTimer = self.server.loop.schedule(after: .milliseconds(100) + self.program.closeGrace) {
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
        guard self.program.exitStatus != nil, self.program.isOutputClosed, !self.sessionEnded else { return }
        self.cancelFinishTimer()
        self.closeSession()
    }

    /// Program exit → close: 1000 for status 0, 1011 with the status or signal otherwise; or, when
    /// the client closed first, the reply it has been waiting for.
    private func closeSession() {
        guard let session = self.session, let status = self.program.exitStatus else { return }
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
}
