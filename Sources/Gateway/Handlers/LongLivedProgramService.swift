import Reactor
import WebSocket

/// One long-lived program serving every session of a route: `shared` and `shared-json` (sessions
/// multiplexed over its stdin and stdout with the shared protocol) or `fanout` (each stdout line
/// to every session, each client's text message to stdin as a line).
///
/// Supervision: the program starts with the gateway. When it exits, every session it served is
/// closed with 1012 (service restart) and it is started again after a back-off that doubles from
/// 100 ms up to 10 s while it keeps failing, and starts over once it has run for 10 s; meanwhile
/// new upgrades get 503. On shutdown its stdin is closed, then the termination steps run.
///
/// Fairness: stdout is always read, so one slow client never stalls the program or the others. A
/// client more than `maxQueuedBytes` behind is closed with 1008. Each message for several sessions
/// is encoded once (compressed once per set of compression parameters, or per session with context
/// takeover) and the same bytes are queued on each. When `maxQueuedBytes` wait for the
/// program's stdin, every session of the route stops being read until it drains.
///
/// With a room bus (`--redis`), a fanout route spans instances by its input: each instance runs its
/// own program, and every client's message, on any instance, is a line on every instance's program
/// (the channel `fanout:PATTERN` is subscribed while the service runs, clients or not, so that the
/// programs all see the same input). A program's output stays with its own instance's clients.
///
/// With `--threads`, the service lives on the first loop; sessions on other loops reach it through
/// a `RemoteProgramService` there (`remoteMembers` says which loop holds which id), and what it
/// sends them is relayed once per loop.
final class LongLivedProgramService: RouteService, RouteSessionEvents, ProgramProcessOwner, RoomBusListener {
    static let firstRestartDelay: Duration = .milliseconds(100)
    static let longestRestartDelay: Duration = .seconds(10)
    /// A program that ran this long was healthy: the next restart is quick again.
    static let stableRunTime: Duration = .seconds(10)

    let pattern: String
    let command: ProgramCommand
    let mode: ProgramMode
    /// The settings of the route that started it; kept until the program's command changes.
    let settings: RouteSettings
    unowned let server: GatewayServer
    private let log: Log
    private var program: ProgramProcess?
    /// The route's open sessions on this loop by id.
    private var sessions: [Int: Session] = [:]
    /// With `--threads`: the route's open sessions on other loops, by id, and their loop.
    var remoteMembers: [Int: Int] = [:]
    private var lines: LineSplitter
    private var inputFull = false
    private var restartDelay = LongLivedProgramService.firstRestartDelay
    private var restartTimer: TimerID?
    private var downTimer: TimerID?
    private var startedAt: ContinuousClock.Instant?
    private var shuttingDown = false

    init(pattern: String, command: ProgramCommand, mode: ProgramMode, settings: RouteSettings, server: GatewayServer) {
        precondition(!mode.isPerSession)
        self.pattern = pattern
        self.command = command
        self.mode = mode
        self.settings = settings
        self.server = server
        self.log = server.configuration.log.with("route", pattern).with("mode", mode)
        // A shared protocol line carries a message escaped (up to 2×) or in base64 (4/3×).
        let maxMessage = settings.maxMessageSize
        self.lines = LineSplitter(maxLineLength: mode == .fanout ? maxMessage : 2 * maxMessage + 256,
                                  discardsLongLines: mode != .fanout)
    }

    private var encoding: SharedEncoding? {
        switch self.mode {
        case .shared: .lines
        case .sharedJSON: .json
        default: nil
        }
    }

    // MARK: Lifecycle

    func start() throws {
        try self.spawn()
        if self.mode == .fanout { self.server.roomBus?.join(self.channel, self) }
    }

    /// The route's name on the room bus.
    private var channel: String { "fanout:" + self.pattern }

    /// Another instance's client said `payload`: a line for this instance's program, as a local
    /// client's message would be; dropped (and counted by the bus) while the program is down or
    /// its stdin is full, since Redis cannot be asked to wait.
    func roomBus(_ bus: RoomBus, deliver opcode: Opcode, _ payload: [UInt8], on channel: String) -> Bool {
        guard opcode == .text, self.isUp, !self.inputFull, let program = self.program else { return false }
        program.write { queue in
            queue.append(contentsOf: payload)
            queue.append(0x0A)
        }
        return true
    }

    private func spawn() throws(SystemError) {
        var environment = self.server.passedEnvironment(self.settings)
        environment["SERVER_SOFTWARE"] = self.server.configuration.serverSoftware
        environment["WSGATE_ROUTE"] = self.pattern
        environment["WSGATE_MODE"] = self.mode.rawValue
        let program = try self.server.spawnProgram(self.command, environment: environment, terminal: false,
                                                   countedRoute: nil, settings: self.settings, log: self.log)
        program.owner = self
        self.program = program
        self.lines = LineSplitter(maxLineLength: self.lines.maxLineLength, discardsLongLines: self.lines.discardsLongLines)
        self.startedAt = self.server.loop.now
        program.log.info("process.start", [("command", program.command)])
        program.startReading()
        self.relayToEveryLoop(.up(true))
    }

    /// Whether the program is up and taking sessions.
    private var isUp: Bool {
        guard let program = self.program else { return false }
        return program.exitStatus == nil && !program.isTerminating
    }

    func prepareHandler(for session: Session, request: HTTPHead) -> GatewayServer.HandlerPreparation {
        guard self.isUp else {
            return .refused(HTTPResponse(status: 503, body: "the route's program is restarting"))
        }
        return .ready(RouteSessionHandler(service: self))
    }

    func beginShutdown() {
        if self.mode == .fanout { self.server.roomBus?.leave(self.channel, self) }
        self.shuttingDown = true
        if let timer = self.restartTimer { self.server.loop.cancel(timer) }
        self.restartTimer = nil
        self.program?.terminate()
    }

    /// Closes every session with `code`, then stops the program as shutdown does (stdin closed,
    /// then the termination steps); it is not restarted.
    func retire(code: CloseCode, reason: String) {
        self.log.info("shared.retired", [("code", code.rawValue), ("sessions", self.sessions.count + self.remoteMembers.count)])
        for session in Array(self.sessions.values) { session.close(code: code, reason: reason) }
        self.beginShutdown()
    }

    // MARK: Sessions

    func sessionOpened(_ session: Session) {
        self.sessions[session.id] = session
        if self.inputFull { session.pauseReadingForHandler(true) }
        guard let encoding = self.encoding, let program = self.program else { return }
        let event = Self.openEvent(for: session, pattern: self.pattern, mode: self.mode, server: self.server)
        program.write { encoding.encode(event, into: &$0) }
    }

    /// The `open` event of a session, made on the session's own loop (`shared-json`: with its
    /// CGI environment).
    static func openEvent(for session: Session, pattern: String, mode: ProgramMode, server: GatewayServer) -> SharedEvent {
        let (scriptName, pathInfo) = Route(pattern, .echo).scriptNameAndPathInfo(for: session.path)
        let environment = mode == .sharedJSON
            ? server.cgiEnvironment(for: session, scriptName: scriptName, pathInfo: pathInfo).variables : [:]
        return SharedEvent.open(id: session.id, requestURI: session.request?.target ?? session.path,
                                path: session.path, remote: session.clientAddress ?? session.remoteAddress.description,
                                environment: environment)
    }

    func session(_ session: Session, received message: Message) {
        if !self.write(message, from: session.id) {
            session.close(code: .unsupportedData, reason: "binary message on a fanout route")
        }
    }

    /// Hands a client's message to the program; false for a binary message on a fanout route.
    private func write(_ message: Message, from id: Int) -> Bool {
        guard let program = self.program else { return true }
        if let encoding = self.encoding {
            program.write { encoding.encode(.message(id: id, message), into: &$0) }
            return true
        }
        guard case .text(let text) = message else { return false }
        program.write { queue in
            queue.append(contentsOf: text.utf8)
            queue.append(0x0A)
        }
        self.server.roomBus?.publish(self.channel, opcode: .text, payload: Array(text.utf8))
        return true
    }

    func sessionClosed(_ session: Session, code: CloseCode) {
        guard self.sessions.removeValue(forKey: session.id) != nil else { return }
        self.writeClose(id: session.id, code: code.rawValue)
    }

    private func writeClose(id: Int, code: UInt16) {
        guard let encoding = self.encoding, let program = self.program else { return }
        program.write { encoding.encode(.close(id: id, code: code), into: &$0) }
    }

    // MARK: Sessions on other loops (--threads)

    /// An event of a session on loop `loop`, through this loop's inbox.
    func receive(_ event: RemoteProgramEvent, from loop: Int) {
        switch event {
        case .open(let open):
            guard case .open(let id, _, _, _, _) = open else { return }
            guard self.isUp, let program = self.program else {
                // It went down while the open was on its way.
                self.server.sendToLoop(loop, .programOutput(service: self.key, .close(
                    ids: [id], code: CloseCode.serviceRestart.rawValue, reason: "program exited; restarting")))
                return
            }
            self.remoteMembers[id] = loop
            if let encoding = self.encoding { program.write { encoding.encode(open, into: &$0) } }
        case .message(let id, let message):
            guard self.remoteMembers[id] != nil else { return }
            _ = self.write(message, from: id)
        case .closed(let id, let code):
            guard self.remoteMembers.removeValue(forKey: id) != nil else { return }
            self.writeClose(id: id, code: code)
        }
    }

    /// The route's service key, which names it in messages between loops.
    private var key: String { "\(self.mode) \(self.command)" }

    /// Sends `output` to the route's sessions on every other loop.
    private func relayToEveryLoop(_ output: RemoteProgramOutput) {
        guard self.server.coordinator != nil else { return }
        self.server.sendToOtherLoops(.programOutput(service: self.key, output))
    }

    /// Sends the output for the listed sessions to the other loops that hold some of them, once
    /// per loop with that loop's ids.
    private func relay(to ids: [Int], _ output: ([Int]) -> RemoteProgramOutput) {
        var byLoop: [Int: [Int]] = [:]
        for id in ids { if let loop = self.remoteMembers[id] { byLoop[loop, default: []].append(id) } }
        for (loop, ids) in byLoop { self.server.sendToLoop(loop, .programOutput(service: self.key, output(ids))) }
    }

    // MARK: Program output

    func program(_ program: ProgramProcess, didOutput bytes: UnsafeRawBufferPointer) {
        guard program === self.program else { return }
        self.lines.feed(bytes) { line in self.handleLine(line) }
    }

    func programDidFinishOutputBatch(_ program: ProgramProcess) {
        if self.lines.discardedLines > 0 {
            self.log.error("shared.line_too_long", [("lines", self.lines.discardedLines), ("limit", self.lines.maxLineLength)])
            self.lines = LineSplitter(maxLineLength: self.lines.maxLineLength, discardsLongLines: true)
        }
    }

    func programOutputDidEnd(_ program: ProgramProcess) {
        guard program === self.program else { return }
        self.lines.finish { line in self.handleLine(line) }
        if program.exitStatus != nil { self.programWentDown() }
    }

    func program(_ program: ProgramProcess, inputIsFull full: Bool) {
        guard program === self.program, self.inputFull != full else { return }
        self.inputFull = full
        for session in self.sessions.values { session.pauseReadingForHandler(full) }
        self.relayToEveryLoop(.pause(full))
    }

    func program(_ program: ProgramProcess, didExit status: ChildProcess.ExitStatus) {
        guard program === self.program else { return }
        if self.shuttingDown {
            self.log.info("shared.stopped", [("status", status)])
            return
        }
        self.log.error("shared.exit", [("status", status), ("sessions", self.sessions.count + self.remoteMembers.count)])
        // Its last output goes out first: close the sessions once stdout ends, or soon anyway if a
        // background process holds it open.
        program.terminate()
        if program.isOutputClosed {
            self.programWentDown()
        } else {
            self.downTimer = self.server.loop.schedule(after: .milliseconds(100) + self.settings.closeGrace) {
                [self] in
                self.downTimer = nil
                self.programWentDown()
            }
        }
    }

    /// The program is gone: its sessions are closed with 1012 and a restart is scheduled.
    private func programWentDown() {
        guard self.program != nil, !self.shuttingDown else { return }
        if let timer = self.downTimer { self.server.loop.cancel(timer) }
        self.downTimer = nil
        self.program = nil
        if self.inputFull {
            self.inputFull = false
            for session in self.sessions.values { session.pauseReadingForHandler(false) }
        }
        for session in Array(self.sessions.values) {
            session.close(code: .serviceRestart, reason: "program exited; restarting")
        }
        self.sessions = [:]
        self.remoteMembers = [:]
        self.relayToEveryLoop(.up(false))  // closes theirs; they no longer pause
        if let startedAt = self.startedAt, self.server.loop.now - startedAt >= Self.stableRunTime {
            self.restartDelay = Self.firstRestartDelay
        }
        self.scheduleRestart()
    }

    private func scheduleRestart() {
        let delay = self.restartDelay
        self.restartDelay = min(self.restartDelay * 2, Self.longestRestartDelay)
        self.log.info("shared.restart_scheduled", [("delay_ms", delay.milliseconds)])
        self.restartTimer = self.server.loop.schedule(after: delay) { [self] in
            self.restartTimer = nil
            guard !self.shuttingDown else { return }
            do throws(SystemError) {
                try self.spawn()
                self.log.info("shared.restarted", [("pid", self.program?.pid ?? 0)])
            } catch {
                self.log.error("shared.restart_failed", [("error", error)])
                self.scheduleRestart()
            }
        }
    }

    // MARK: Commands

    private func handleLine(_ line: UnsafeRawBufferPointer) {
        guard let encoding = self.encoding else {
            // fanout: the line is a text message for everyone (repaired and cut as in line mode).
            TextLine.pieces(of: line, limit: self.settings.maxMessageSize) { piece in
                let message = FanoutMessage(opcode: .text, payload: Array(piece))
                for session in self.sessions.values { session.send(message, dropIfBehind: true) }
                if !self.remoteMembers.isEmpty {
                    self.relayToEveryLoop(.others(except: [], opcode: .text, payload: message.payload))
                }
            }
            return
        }
        let command: SharedCommand
        do {
            command = try encoding.parse(line)
        } catch {
            self.log.error("shared.bad_line", [("error", error), ("line", Self.excerpt(line))])
            return
        }
        self.execute(command)
    }

    private func execute(_ command: SharedCommand) {
        switch command {
        case .send(let ids, let message):
            guard let message = self.fanout(message) else { return }
            for id in ids { self.sessions[id]?.send(message, dropIfBehind: true) }
            if !self.remoteMembers.isEmpty {
                self.relay(to: ids) { .send(ids: $0, opcode: message.opcode, payload: message.payload) }
            }
        case .all(let message):
            guard let message = self.fanout(message) else { return }
            for session in self.sessions.values { session.send(message, dropIfBehind: true) }
            if !self.remoteMembers.isEmpty {
                self.relayToEveryLoop(.others(except: [], opcode: message.opcode, payload: message.payload))
            }
        case .others(let except, let message):
            guard let message = self.fanout(message) else { return }
            let skipped = Set(except)
            for (id, session) in self.sessions where !skipped.contains(id) {
                session.send(message, dropIfBehind: true)
            }
            if !self.remoteMembers.isEmpty {
                self.relayToEveryLoop(.others(except: except, opcode: message.opcode, payload: message.payload))
            }
        case .close(let ids, let code, let reason):
            for id in ids { self.sessions[id]?.close(code: code, reason: reason) }
            if !self.remoteMembers.isEmpty {
                self.relay(to: ids) { .close(ids: $0, code: code.rawValue, reason: reason) }
            }
        }
    }

    /// The message, encoded (and compressed) once per kind of receiver; nil (and a log line) for
    /// a message over the size limit.
    private func fanout(_ message: Message) -> FanoutMessage? {
        let fanout = FanoutMessage(message)
        guard fanout.payload.count <= self.settings.maxMessageSize else {
            self.log.error("shared.message_too_big", [("bytes", fanout.payload.count)])
            return nil
        }
        return fanout
    }

    private static func excerpt(_ line: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return line.count > 200 ? text + "…" : text
    }
}
