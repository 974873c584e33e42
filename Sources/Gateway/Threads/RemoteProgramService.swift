import WebSocket

/// A long-lived program's route (`shared`, `shared-json`, `fanout`) on a loop other than the
/// first (`--threads`): the program and its service run on the first loop; this loop's sessions
/// of the route are kept here by id, their events are sent to the service through its inbox, and
/// the service's output comes back as one batch per loop, fanned out here (each message encoded
/// once per loop). A slow client is closed with 1008 here, on its own loop, as on the first.
final class RemoteProgramService: RouteService, RouteSessionEvents {
    let key: String
    let pattern: String
    let mode: ProgramMode
    unowned let server: GatewayServer
    /// This loop's open sessions of the route by id.
    private var sessions: [Int: Session] = [:]
    /// Whether the program runs, as the service last said: upgrades get 503 while it does not.
    private var isUp = true
    /// Whether the program's stdin is full, as the service last said.
    private var inputFull = false
    /// Bytes of client messages sent to the first loop that it has not taken yet: beyond
    /// `maxQueuedBytes` this loop's sessions stop being read until it takes half of them, so that a
    /// busy first loop (or a program slow to say its stdin is full) cannot make memory grow here.
    private var inFlight = 0
    private let maxInFlight: Int
    private var readingPaused = false

    init(key: String, pattern: String, mode: ProgramMode, maxInFlight: Int, server: GatewayServer) {
        self.maxInFlight = maxInFlight
        self.key = key
        self.pattern = pattern
        self.mode = mode
        self.server = server
    }

    func start() {}

    func prepareHandler(for session: Session, request: HTTPHead) -> GatewayServer.HandlerPreparation {
        guard self.isUp else {
            return .refused(HTTPResponse(status: 503, body: "the route's program is restarting"))
        }
        return .ready(RouteSessionHandler(service: self))
    }

    func beginShutdown() { self.isUp = false }

    func retire(code: CloseCode, reason: String) {
        self.isUp = false
        for session in Array(self.sessions.values) { session.close(code: code, reason: reason) }
    }

    // MARK: Sessions, to the first loop

    private func tell(_ event: RemoteProgramEvent) {
        self.server.sendToLoop(0, .programEvent(service: self.key, loop: self.server.loopIndex, event))
    }

    func sessionOpened(_ session: Session) {
        self.sessions[session.id] = session
        if self.readingPaused { session.pauseReadingForHandler(true) }
        self.tell(.open(LongLivedProgramService.openEvent(for: session, pattern: self.pattern, mode: self.mode, server: self.server)))
    }

    func session(_ session: Session, received message: Message) {
        if self.mode == .fanout, case .binary = message {
            session.close(code: .unsupportedData, reason: "binary message on a fanout route")
            return
        }
        let event = RemoteProgramEvent.message(id: session.id, message)
        self.inFlight += event.size
        self.tell(event)
        self.updatePause()
    }

    /// Pauses or resumes this loop's sessions: while the program's stdin is full, or while too
    /// much waits for the first loop.
    private func updatePause() {
        let paused = self.inputFull || self.inFlight > self.maxInFlight
            || (self.readingPaused && self.inFlight > self.maxInFlight / 2)
        guard paused != self.readingPaused else { return }
        self.readingPaused = paused
        for session in self.sessions.values { session.pauseReadingForHandler(paused) }
    }

    func sessionClosed(_ session: Session, code: CloseCode) {
        guard self.sessions.removeValue(forKey: session.id) != nil else { return }
        self.tell(.closed(id: session.id, code: code.rawValue))
    }

    // MARK: Output, from the first loop

    func deliver(_ output: RemoteProgramOutput) {
        switch output {
        case .send(let ids, let opcode, let payload):
            let message = FanoutMessage(opcode: opcode, payload: payload)
            for id in ids { self.sessions[id]?.send(message, dropIfBehind: true) }
        case .others(let except, let opcode, let payload):
            let message = FanoutMessage(opcode: opcode, payload: payload)
            if except.isEmpty {
                for session in self.sessions.values { session.send(message, dropIfBehind: true) }
            } else {
                let skipped = Set(except)
                for (id, session) in self.sessions where !skipped.contains(id) { session.send(message, dropIfBehind: true) }
            }
        case .close(let ids, let code, let reason):
            for id in ids { self.sessions[id]?.close(code: CloseCode(code), reason: reason) }
        case .pause(let full):
            self.inputFull = full
            self.updatePause()
        case .consumed(let bytes):
            self.inFlight = max(0, self.inFlight - bytes)  // acks of messages sent before a restart
            self.updatePause()
        case .up(let up):
            self.isUp = up
            guard !up else { return }
            if self.inputFull { self.deliver(.pause(false)) }
            self.inFlight = 0
            self.updatePause()
            for session in Array(self.sessions.values) {
                session.close(code: .serviceRestart, reason: "program exited; restarting")
            }
        }
    }
}
