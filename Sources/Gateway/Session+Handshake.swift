import Reactor
import WebSocket

extension Session {
    /// Routes the request, runs the server handshake and opens the session, or refuses with the exact status.
    func handleRequest(_ head: HTTPHead, rest: [UInt8]) {
        self.request = head
        self.adoptForwardedClient(head)
        self.path = head.path ?? ""
        self.query = head.query ?? ""
        self.log.debug("handshake.request", [("method", head.method ?? "-"), ("target", head.target ?? "-")])
        if !self.server.responders.isEmpty && !HTTPRequest.asksForUpgrade(head) {
            self.handlePlainRequest(head, rest: rest)
            return
        }
        self.handleUpgrade(head, rest: rest)
    }

    /// The WebSocket way: route, handshake, origin, handler; or the refusal that names the fault.
    func handleUpgrade(_ head: HTTPHead, rest: [UInt8]) {
        self.cancelTimer(&self.handshakeTimer)
        guard let route = self.server.router.route(for: self.path) else {
            self.reject(HTTPResponse(status: 404, body: "no route for \(self.path)"), logAs: "handshake.not_found")
            return
        }
        // From here on the session runs with its route's settings, whatever a reload does later.
        self.sharedSettings = route.sharedSettings
        let accepted: ServerHandshake.Accepted
        switch route.handshake.accept(head, compression: route.settings.compression) {
        case .failure(let failure):
            self.reject(failure.response, logAs: "handshake.refused")
            return
        case .success(let success):
            accepted = success
        }
        if let refusal = route.originPolicy.refusal(for: head) {
            self.reject(HTTPResponse(status: 403, body: refusal), logAs: "handshake.forbidden_origin")
            return
        }
        if let policy = route.route.auth ?? self.server.configuration.auth {
            self.authenticate(under: policy, route: route, accepted: accepted, rest: rest)
        } else {
            self.startHandler(route: route, accepted: accepted, rest: rest)
        }
    }

    /// Prepares the route's handler and opens the session, or waits while a program starts.
    func startHandler(route: ServedRoute, accepted: ServerHandshake.Accepted, rest: [UInt8]) {
        guard let head = self.request else { preconditionFailure("startHandler before the request") }
        guard self.server.claimOnce(for: self) else {
            self.reject(HTTPResponse(status: 503, body: "serving one session only (--once)"), logAs: "server.once_busy")
            return
        }
        // A program is started before the 101, so that one that cannot start is an HTTP error.
        switch self.server.prepareHandler(route, for: self, request: head) {
        case .refused(let response):
            self.server.releaseOnce(for: self)
            self.reject(response, logAs: "handshake.handler_failed")
        case .ready(let handler):
            self.open(route: route, accepted: accepted, handler: handler, rest: rest)
        case .pending:
            // The program is being started off the loop thread: the client is not read meanwhile
            // (only its leaving is watched for), and `handlerPrepared` finishes the handshake.
            self.phase = .preparing(Preparation(route: route, accepted: accepted, rest: rest))
            self.updateInterest()
        }
    }

    /// Finishes a handshake whose handler was `.pending`: the 101 and the session, or the refusal.
    func handlerPrepared(_ preparation: GatewayServer.HandlerPreparation) {
        guard case .preparing(let waiting) = self.phase else { return }
        switch preparation {
        case .refused(let response):
            self.server.releaseOnce(for: self)
            self.reject(response, logAs: "handshake.handler_failed")
        case .ready(let handler):
            self.open(route: waiting.route, accepted: waiting.accepted, handler: handler, rest: waiting.rest)
        case .pending:
            preconditionFailure("handlerPrepared(.pending)")
        }
        self.flush()
    }

    /// Whether the session waits for its handler (a program being started).
    var isAwaitingHandler: Bool {
        if case .preparing = self.phase { return true }
        return false
    }

    private func open(route served: ServedRoute, accepted: ServerHandshake.Accepted, handler: any SessionHandler, rest: [UInt8]) {
        self.subprotocol = accepted.subprotocol
        self.handlerName = served.route.handler.name
        if let agreement = accepted.deflate, let compression = served.settings.compression {
            self.deflate = PerMessageDeflate(side: .server, agreement: agreement, configuration: compression,
                                             shared: self.server.deflateStreams)
        }
        let connection = Connection(
            side: .server, configuration: .init(maxMessageSize: self.settings.maxMessageSize),
            extensions: self.deflate.map { [$0] } ?? [], log: self.log.enabled(.debug) ? self.connectionLog() : nil)
        self.phase = .open(connection)
        self.queue.appendHTTPResponse(accepted.response.serialized())
        self.log = self.log.with("path", self.path)
        self.log.access("session.open", [
            ("handler", self.handlerName), ("subprotocol", accepted.subprotocol ?? "-"),
            ("compression", accepted.response["Sec-WebSocket-Extensions"] ?? "-"),
        ])
        self.handler = handler
        if let metrics = self.server.metrics?.route(served.pattern) {
            metrics.sessions += 1
            self.routeMetrics = metrics
        }
        self.server.onceOpened(self, handler: handler)
        self.scheduleKeepalive()
        self.scheduleIdleCheck()
        handler.sessionDidOpen(self)
        // Frames the client sent in the same segment as its request.
        if !rest.isEmpty, case .open(let current) = self.phase {
            var bytes = rest
            bytes.withUnsafeMutableBytes { current.receive(mutating: $0) }
            self.handleConnection(current)
        }
    }

    func connectionLog() -> LogSink {
        let log = self.log
        return LogSink(debug: true) { line in log.debug("frame", [("frame", line)]) }
    }
}
