import WebSocket

/// The route-wide part of a handler: state and processes that outlive any one session (a
/// broadcast route's rooms, a shared or fanout route's long-lived program). The gateway owns one
/// per such route, from start to shutdown, and asks it for each session's handler.
///
/// Every call happens on the gateway's loop thread.
protocol RouteService: AnyObject {
    /// Starts what the route needs before its first client. A service that cannot start stops the
    /// gateway at start-up.
    func start() throws
    /// The handler for a session of the route that passed the handshake, or the refusal to send.
    func prepareHandler(for session: Session, request: HTTPHead) -> GatewayServer.HandlerPreparation
    /// The gateway is shutting down and closing every session: stop what runs.
    func beginShutdown()
    /// A reload dropped the route or changed its program: close the service's sessions with
    /// `code` and stop what runs. New sessions no longer reach it.
    func retire(code: CloseCode, reason: String)
}

/// A route service that takes each of its sessions' events itself (a long-lived program, here
/// or on another loop).
protocol RouteSessionEvents: AnyObject {
    func sessionOpened(_ session: Session)
    func session(_ session: Session, received message: Message)
    func sessionClosed(_ session: Session, code: CloseCode)
}

/// One session of such a route: hands its events to the route's service.
final class RouteSessionHandler: SessionHandler {
    let service: any RouteSessionEvents

    init(service: any RouteSessionEvents) {
        self.service = service
    }

    func sessionDidOpen(_ session: Session) {
        self.service.sessionOpened(session)
    }

    func session(_ session: Session, didReceive message: Message) {
        self.service.session(session, received: message)
    }

    func sessionDidClose(_ session: Session, code: CloseCode, reason: String) {
        self.service.sessionClosed(session, code: code)
    }
}
