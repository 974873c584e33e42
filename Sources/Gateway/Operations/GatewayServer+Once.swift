import Reactor
import WebSocket

extension GatewayServer {
    /// How the one session of `--once` ended, for the exit status.
    public enum OnceOutcome {
        /// The session's program ended so (per-session program routes).
        case program(ChildProcess.ExitStatus)
        /// A route without a program of its own (echo, broadcast, shared): the close code, nil
        /// when the connection ended without one.
        case closed(CloseCode?)
    }

    /// Takes the one session `--once` serves for `session`: the first request that passed its
    /// checks. false when another has it (the caller refuses with 503).
    func claimOnce(for session: Session) -> Bool {
        guard self.configuration.once else { return true }
        if self.once.sessionID == nil { self.once.sessionID = session.id }
        return self.once.sessionID == session.id
    }

    /// The claimed session's handler could not start: the next request may have the turn.
    func releaseOnce(for session: Session) {
        if self.once.sessionID == session.id && !self.once.opened { self.once.sessionID = nil }
    }

    /// The one session opened: nothing more is accepted.
    func onceOpened(_ session: Session, handler: any SessionHandler) {
        guard self.configuration.once, self.once.sessionID == session.id else { return }
        self.once.opened = true
        self.once.program = (handler as? ProcessHandler)?.program
        self.closeListeners()
        self.configuration.log.info("server.once", [("id", session.id), ("listening", false)])
    }

    /// The one session ended: stop, once its program has been reaped.
    func onceEnded(_ session: Session, code: CloseCode?) {
        guard self.configuration.once, self.once.opened, self.once.sessionID == session.id else { return }
        self.once.closeCode = code
        self.beginShutdown(signal: nil)
    }

    /// How the one session ended; nil when none opened (the gateway was stopped before).
    public var onceOutcome: OnceOutcome? {
        guard self.once.opened else { return nil }
        if let status = self.once.program?.exitStatus { return .program(status) }
        return .closed(self.once.closeCode)
    }

    /// What `--once` keeps.
    struct OnceState {
        var sessionID: Int?
        var opened = false
        var program: ProgramProcess?
        var closeCode: CloseCode?
    }
}
