import Reactor
import WebSocket

/// Plain HTTP on a connection: a request that asks for no upgrade goes to the server's responders
/// (`GatewayServer.responders`), and the connection may carry more requests after it.
///
/// Keep-alive (RFC 9112 §9.3): an HTTP/1.1 connection stays open unless the client sends
/// `Connection: close`; an HTTP/1.0 one only when it sends `Connection: keep-alive`. Requests sent
/// before the last response is written (pipelining) are kept, up to `pendingInputLimit` bytes,
/// and answered in order: the socket is not read further until then. Between requests the
/// connection may be idle for `httpIdleTimeout`; once a request begins, its head and body must
/// arrive within `handshakeTimeout`. A WebSocket upgrade may follow plain requests.
extension Session {
    /// Bytes of pipelined requests held while a response is written; beyond it the socket waits.
    static let pendingInputLimit = 64 * 1024

    var pendingInputIsFull: Bool {
        if case .responding = self.phase { return self.pendingInput.count >= Self.pendingInputLimit }
        return false
    }

    /// Whether the socket is read now.
    var readsSocket: Bool {
        !self.readingPaused && !self.readingPausedByHandler && !self.isAwaitingHandler && !self.inputEnded
            && !self.pendingInputIsFull
    }

    /// Reads a plain request's body when it has one, then dispatches it. A body the gateway will
    /// not read is refused, and the connection closes (its bytes would be taken for a request).
    func handlePlainRequest(_ head: HTTPHead, rest: [UInt8]) {
        let limit = self.server.configuration.maxRequestBodySize
        switch HTTPRequest.framing(of: head, maxBody: limit) {
        case .none:
            self.dispatchPlain(head, body: [], rest: rest)
        case .length(let length):
            self.receiveBody(PendingBody(head: head, body: [], length: length), rest)
        case .transferCoded:
            self.refusePlain(head, HTTPResponse(status: 411, body: "a request body needs Content-Length: Transfer-Encoding is not supported"))
        case .tooLarge(let length):
            self.refusePlain(head, HTTPResponse(status: 413, body: "request body of \(length) bytes is larger than the limit of \(limit)"))
        case .invalid(let why):
            self.refusePlain(head, HTTPResponse(status: 400, body: "bad request: \(why)"))
        }
    }

    func receiveBody(_ pending: PendingBody, _ bytes: some Collection<UInt8>) {
        var pending = pending
        let wanted = pending.length - pending.body.count
        pending.body.append(contentsOf: bytes.prefix(wanted))
        guard pending.body.count == pending.length else {
            self.phase = .readingBody(pending)
            return
        }
        self.dispatchPlain(pending.head, body: pending.body, rest: Array(bytes.dropFirst(wanted)))
    }

    private func refusePlain(_ head: HTTPHead, _ response: HTTPResponse) {
        self.dispatchPlain(head, body: [], rest: [], refusal: response)
    }

    /// Hands the request to the first responder that takes it; when none does, the refusal it
    /// always had (the route's, 426 for a plain GET, or 404), which closes the connection.
    func dispatchPlain(_ head: HTTPHead, body: [UInt8], rest: [UInt8], refusal: HTTPResponse? = nil) {
        self.cancelTimer(&self.handshakeTimer)
        let request = HTTPRequest(
            head: head, method: head.method ?? "GET", version: CGIEnvironment.version(head), path: self.path,
            query: self.query, body: body, route: self.server.router.route(for: self.path)?.route)
        let exchange = HTTPExchange(request: request, session: self,
                                    keepAlive: request.wantsKeepAlive && !self.inputEnded)
        self.pendingInput = rest
        self.phase = .responding(exchange)
        if let refusal {
            self.reject(refusal, logAs: "http.refused")
            return
        }
        for responder in self.server.responders {
            exchange.responderName = responder.name
            if responder.serve(exchange) {
                self.updateInterest()
                return
            }
        }
        exchange.responderName = "-"
        self.pendingInput = []
        self.handleUpgrade(head, rest: [])
    }

    /// The response is written: wait for the next request, or close.
    func finishExchange(_ exchange: HTTPExchange) {
        self.logRequest(exchange, status: exchange.status, bytes: exchange.bodyBytes)
        exchange.end()
        guard exchange.keepAlive && !self.inputEnded && !self.server.isShuttingDown else {
            self.phase = .rejecting
            self.endOfStreamRequested = true
            return
        }
        self.phase = .handshaking(HTTPHeadParser(kind: .request, maxSize: self.server.configuration.maxRequestHeadSize))
        self.awaitingNextRequest = true
        self.armHandshakeTimer(idle: true)
        guard !self.pendingInput.isEmpty else { return }
        var pipelined = self.pendingInput
        self.pendingInput = []
        pipelined.withUnsafeMutableBytes { self.process($0) }
    }

    /// The access log's line for a plain request (`--loglevel access`).
    func logRequest(_ exchange: HTTPExchange, status: Int?, bytes: some BinaryInteger, cancelled: Bool = false) {
        let request = exchange.request
        if let status { self.server.metrics?.requestAnswered(responder: exchange.responderName, status: status) }
        self.log.access("http.request", [
            ("method", request.method), ("path", request.path), ("query", request.query.isEmpty ? "-" : request.query),
            ("status", status.map(String.init) ?? "-"), ("bytes", bytes),
            ("duration_ms", (self.server.loop.now - exchange.startedAt).milliseconds),
            ("responder", exchange.responderName), ("outcome", cancelled ? "client_gone" : "done"),
        ])
    }
}
