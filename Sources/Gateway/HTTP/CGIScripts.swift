import Reactor
import WebSocket

/// Runs the executables below a directory (`--cgidir`) as CGI/1.1 scripts (RFC 3875) for plain
/// requests, as websocketd does.
///
/// It takes a request whose decoded path leads to an executable regular file below the directory
/// (`RequestPath`'s refusals first, then `ScriptDirectory`'s walk: realpath confinement, the rest
/// of the path is PATH_INFO); anything else is left to the next responder. GET, HEAD and POST are
/// run; other methods get 405. The environment is a program route's (`CGIEnvironment`), with the
/// real REQUEST_METHOD, and CONTENT_LENGTH and CONTENT_TYPE for the body, which goes to the
/// script's stdin (read whole before the script starts, within `maxRequestBodySize`).
final class CGIScripts: HTTPResponder {
    let name = "cgi"
    let directory: String
    unowned let server: GatewayServer

    init(directory: String, server: GatewayServer) {
        self.directory = directory
        self.server = server
    }

    func serve(_ exchange: HTTPExchange) -> Bool {
        let request = exchange.request
        guard case .success(let path) = RequestPath.parse(request.path), !path.segments.isEmpty,
            case .found(let file, let scriptName, let pathInfo) = ScriptDirectory.lookup(
                "/" + path.segments.joined(separator: "/"), in: self.directory),
            let session = exchange.session
        else { return false }
        guard ["GET", "HEAD", "POST"].contains(request.method) else {
            exchange.respond(status: 405, headers: [("Allow", "GET, HEAD, POST")],
                             text: "method \(request.method) not allowed: use GET, HEAD or POST")
            return true
        }
        // CGI scripts share one count for the per-route bound, under a name no route can have.
        let counted = "cgi:\(self.directory)"
        if let refusal = self.server.programLimitRefusal(route: counted, routeLimit: nil) {
            exchange.respond(status: refusal.status, text: refusal.body)
            return true
        }
        var environment = self.server.cgiEnvironment(for: session, scriptName: scriptName, pathInfo: pathInfo).variables
        // RFC 3875 §4.1.2, §4.1.3: set when there is a body; the fields they come from are not
        // repeated as HTTP_* (§4.1.18 lets a server leave out what it passes otherwise).
        environment["CONTENT_LENGTH"] = request.body.isEmpty && request.method != "POST" ? "" : String(request.body.count)
        environment["CONTENT_TYPE"] = CGIEnvironment.cleaned(request.head["Content-Type"] ?? "")
        environment["HTTP_CONTENT_LENGTH"] = nil
        environment["HTTP_CONTENT_TYPE"] = nil
        let run = CGIRun(exchange: exchange, server: self.server, log: session.log.with("script", scriptName))
        self.server.launchProgram(ProgramCommand(executable: file), environment: environment, terminal: false,
                                  countedRoute: counted, reserved: self.server.coordinator != nil,
                                  settings: session.settings,
                                  log: run.log) { outcome in run.started(outcome) }
        return true
    }
}

/// One CGI script answering one request: its stdout parsed into a response head, then streamed
/// as the body, with backpressure (stdout is not read while the client's queue is over its bound).
///
/// A script silent for `cgiTimeout` (not counting time its output waits for a slow client) is
/// stopped: 504 when it has not sent its header block, else the response is cut off and the
/// connection closed. A malformed header block, or none before stdout ends, is 502. However it
/// ends, the script's process group is stopped with the usual steps (`ProgramProcess.terminate`).
final class CGIRun: ProgramProcessOwner {
    let exchange: HTTPExchange
    unowned let server: GatewayServer
    let log: Log
    private var program: ProgramProcess?
    private var parser = CGIResponseHead.Parser()
    private var headSent = false
    private var outputPaused = false
    private var done = false
    private var timer: TimerID?
    private var lastOutputAt: ContinuousClock.Instant

    init(exchange: HTTPExchange, server: GatewayServer, log: Log) {
        self.exchange = exchange
        self.server = server
        self.log = log
        self.lastOutputAt = server.loop.now
    }

    func started(_ outcome: Result<ProgramProcess, SystemError>) {
        let program: ProgramProcess
        switch outcome {
        case .failure(let error):
            self.done = true
            self.exchange.respond(status: 502, text: "cannot start the CGI script: \(error.errno)")
            return
        case .success(let started):
            program = started
        }
        guard self.exchange.session != nil else {
            program.terminate()  // the client left while the script started
            return
        }
        self.program = program
        program.owner = self
        // Both closures are dropped by the exchange when it ends, which breaks the cycle.
        self.exchange.onCancel = { [self] in self.stop() }
        self.exchange.onDrain = { [self] in
            guard self.outputPaused else { return }
            self.outputPaused = false
            self.program?.resumeOutput()
        }
        program.log.trace("process.start", [("command", program.command), ("mode", "cgi")])
        if !self.exchange.request.body.isEmpty { program.write(self.exchange.request.body) }
        program.finishInput()
        program.startReading()
        self.lastOutputAt = self.server.loop.now
        self.armTimer(at: self.lastOutputAt + self.server.configuration.cgiTimeout)
    }

    // MARK: Program events

    func program(_ program: ProgramProcess, didOutput bytes: UnsafeRawBufferPointer) {
        guard !self.done else { return }  // stopping: drained and discarded
        self.lastOutputAt = self.server.loop.now
        if self.headSent {
            self.exchange.send(bytes)
            return
        }
        do throws(CGIResponseHead.Malformed) {
            guard let (head, rest) = try self.parser.feed(UnsafeRawBufferPointer(bytes)) else { return }
            self.headSent = true
            self.exchange.respond(status: head.status, reason: head.reason, headers: head.headers,
                                  body: .stream(length: head.contentLength))
            rest.withUnsafeBytes { self.exchange.send($0) }
        } catch {
            self.fail(status: 502, "bad CGI header block: \(error.reason)")
        }
    }

    func programDidFinishOutputBatch(_ program: ProgramProcess) {
        guard !self.done, let session = self.exchange.session else { return }
        session.flush()
        if self.exchange.isBehind && !self.outputPaused {
            self.outputPaused = true
            program.pauseOutput()
        }
    }

    func programOutputDidEnd(_ program: ProgramProcess) {
        guard !self.done else { return }
        if self.headSent {
            self.exchange.finish()
            self.stop()
        } else {
            self.fail(status: 502, "the CGI script sent no header block")
        }
    }

    func program(_ program: ProgramProcess, didExit status: ChildProcess.ExitStatus) {
        program.log.trace("process.exit", [("status", status)])
    }

    func program(_ program: ProgramProcess, inputIsFull full: Bool) {}

    // MARK: Ending

    private func armTimer(at deadline: ContinuousClock.Instant) {
        self.timer = self.server.loop.schedule(at: deadline) { [self] in
            self.timer = nil
            guard !self.done else { return }
            let timeout = self.server.configuration.cgiTimeout
            if self.outputPaused && !self.exchange.isComplete {
                // Waiting for the client, not for the script.
                self.armTimer(at: self.server.loop.now + timeout)
            } else if self.server.loop.now - self.lastOutputAt >= timeout {
                self.log.info("cgi.timeout", [("timeout_ms", timeout.milliseconds)])
                if self.exchange.isComplete {
                    self.stop()  // its response is whole: it only lingers
                } else if self.headSent {
                    self.exchange.abort()
                    self.stop()
                } else {
                    self.fail(status: 504, "the CGI script did not answer within \(timeout)")
                }
            } else {
                self.armTimer(at: self.lastOutputAt + timeout)
            }
        }
    }

    private func fail(status: Int, _ reason: String) {
        self.log.info("cgi.failed", [("status", status), ("reason", reason)])
        self.exchange.respond(status: status, text: reason)
        self.stop()
    }

    /// Stops the script (its input is already ended) and its whole process group.
    private func stop() {
        guard !self.done else { return }
        self.done = true
        if let timer = self.timer {
            self.server.loop.cancel(timer)
            self.timer = nil
        }
        self.program?.terminate()
    }
}
