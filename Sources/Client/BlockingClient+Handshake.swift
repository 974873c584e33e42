import Reactor
import WebSocket

extension BlockingClient {
    /// Sends the upgrade request and validates the answer (RFC 6455 §4.1).
    ///
    /// A refusal (any status but 101) is read on to its body, because that is where a server says
    /// why: wsgate answers "502 Bad Gateway" with "cannot start program …: EACCES". The body is read
    /// up to its Content-Length (at most `Response.maxBodyKept` bytes) or, without one, until the
    /// server closes; that wait is bounded by the handshake's deadline, and by half a second when
    /// no Content-Length says more is coming.
    func handshake() throws(Failure) {
        let request = ClientHandshake(host: self.url.hostHeader, target: self.url.target, origin: self.options.origin,
                                      subprotocols: self.options.subprotocols, extraHeaders: self.options.headers,
                                      compression: self.options.compression)
        try self.write(request.request.serialized(), waiting: true)
        var parser = HTTPHeadParser(kind: .response)
        let deadline = self.deadline()
        while true {
            try self.wait("waiting for the handshake response", deadline: deadline) {
                !self.io.received.isEmpty || self.io.eof
            }
            if self.io.received.isEmpty && self.io.eof { throw .malformedResponse("connection closed before a response") }
            let bytes = self.io.received
            self.io.received = []
            let parsed: (head: HTTPHead, rest: [UInt8])?
            do {
                parsed = try parser.feed(bytes)
            } catch {
                throw .malformedResponse("\(error)")
            }
            guard let (head, rest) = parsed else { continue }
            self.response = head
            do {
                let accepted = try request.validateResponse(head)
                self.subprotocol = accepted.subprotocol
                if let agreement = accepted.deflate, let compression = self.options.compression {
                    let deflate = PerMessageDeflate(side: .client, agreement: agreement, configuration: compression)
                    self.deflate = deflate
                    self.connection = Connection(side: .client, configuration: self.connection.configuration,
                                                 extensions: [deflate])
                }
            } catch {
                let body = error.isRefusal ? self.readBody(of: head, after: rest, deadline: deadline) : []
                throw Failure.handshake(error, Response(head: head, body: body))
            }
            self.io.connection = self.connection
            if !rest.isEmpty {
                self.connection.receive(rest)
                self.io.appendEvents(self.connection.takeEvents())
            }
            return
        }
    }

    /// The body of a refusal, as much as arrives within the bounds described at `handshake()`.
    private func readBody(of head: HTTPHead, after rest: [UInt8], deadline: ContinuousClock.Instant) -> [UInt8] {
        let declared = head["Content-Length"].flatMap { Int($0) }
        let wanted = min(declared ?? Response.maxBodyKept, Response.maxBodyKept)
        let bodyDeadline = declared == nil ? min(deadline, .now + .milliseconds(500)) : deadline
        var body = rest
        while body.count < wanted && !self.io.eof {
            do {
                try self.wait("reading the refusal", deadline: bodyDeadline) { !self.io.received.isEmpty || self.io.eof }
            } catch {
                break  // what arrived is enough to say why
            }
            body.append(contentsOf: self.io.received)
            self.io.received = []
        }
        return Array(body.prefix(wanted))
    }
}

extension ClientHandshakeError {
    /// Whether the server answered with another status than 101: a refusal, with a body that says why.
    var isRefusal: Bool {
        if case .unexpectedStatus = self { return true }
        return false
    }
}
