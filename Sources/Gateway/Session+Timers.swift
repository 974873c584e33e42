import Reactor
import WebSocket

/// The session's deadlines. Each timer is re-armed lazily when it fires, not on every message, so a
/// busy session costs no timer operations (the loop's cached `now` is read instead).
///
/// The closures hold the session `unowned`: `teardown` cancels every timer, and a weak reference
/// would move the session's reference counts to a side table, slowing every retain of it.
extension Session {
    /// The request head (and a plain request's body) must arrive within `handshakeTimeout`; on a
    /// kept-alive connection, the next request must begin within `httpIdleTimeout` (`idle`).
    func armHandshakeTimer(idle: Bool = false) {
        // The two fields, not the configuration: copying that whole struct costs hundreds of instructions.
        let timeout = idle ? self.server.configuration.httpIdleTimeout : self.server.configuration.handshakeTimeout
        self.handshakeTimer = self.server.loop.schedule(after: timeout) { [unowned self] in
            self.handshakeTimer = nil
            switch self.phase {
            case .handshaking, .readingBody: break
            default: return
            }
            if self.awaitingNextRequest {
                self.log.debug("http.idle_timeout")
                self.teardown(reason: "idle between requests")
            } else {
                self.log.info("handshake.timeout")
                self.teardown(reason: "handshake timeout")
            }
        }
    }

    func armCloseTimer() {
        self.cancelTimer(&self.closeTimer)
        self.closeTimer = self.server.loop.schedule(after: self.server.configuration.closeTimeout) { [unowned self] in
            self.closeTimer = nil
            self.log.debug("session.close_timeout")
            self.teardown(reason: "close timeout")
        }
    }

    /// Keepalive (issue: "every --ping-interval a session that has received nothing gets a ping; if
    /// nothing arrives within --ping-timeout, the session is closed with 1011").
    func scheduleKeepalive() {
        guard let interval = self.settings.pingInterval, interval > .zero else { return }
        let deadline = self.pingSentAt.map { $0 + self.settings.pingTimeout } ?? self.lastReceivedAt + interval
        self.keepaliveTimer = self.server.loop.schedule(at: deadline) { [unowned self] in
            self.keepaliveTimer = nil
            self.keepaliveFired()
        }
    }

    func keepaliveFired() {
        guard let connection = self.connection, connection.state == .open,
            let interval = self.settings.pingInterval
        else { return }
        let now = self.server.loop.now
        if let sentAt = self.pingSentAt {
            if self.lastReceivedAt > sentAt {
                self.pingSentAt = nil
            } else {
                self.log.info("session.keepalive_timeout")
                connection.fail(code: .internalError, reason: "keepalive timeout")
                self.outputChanged()
                return
            }
        } else if now - self.lastReceivedAt >= interval {
            try? connection.sendPing(Array("wsgate".utf8))
            self.pingSentAt = now
            self.outputChanged()
        }
        self.scheduleKeepalive()
    }

    /// A pong: when it answers the keepalive ping (the first pong after it), the round trip is
    /// measured for `wsgate_ping_rtt_seconds`, and the ping is settled.
    func pongReceived() {
        guard let sentAt = self.pingSentAt else { return }
        self.pingSentAt = nil
        if let metrics = self.routeMetrics {
            let rtt = (self.server.loop.now - sentAt).components
            metrics.pingRoundTrips.observe(Double(rtt.seconds) + Double(rtt.attoseconds) * 1e-18)
        }
    }

    func scheduleIdleCheck() {
        guard let timeout = self.settings.idleTimeout, timeout > .zero else { return }
        self.idleTimer = self.server.loop.schedule(at: self.lastMessageAt + timeout) { [unowned self] in
            self.idleTimer = nil
            guard let connection = self.connection, connection.state == .open else { return }
            if self.server.loop.now - self.lastMessageAt >= timeout {
                self.log.info("session.idle_timeout")
                self.close(code: .goingAway, reason: "idle timeout")
            } else {
                self.scheduleIdleCheck()
            }
        }
    }

    func cancelTimer(_ timer: inout TimerID?) {
        if let id = timer {
            self.server.loop.cancel(id)
            timer = nil
        }
    }
}
