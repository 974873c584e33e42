import Reactor
import WebSocket

extension Session: EventHandler {
    public func handle(_ readiness: Readiness) {
        self.isHandlingReadiness = true
        defer { self.isHandlingReadiness = false }
        if !readiness.isDisjoint(with: [.hangup, .error]) && !self.readsSocket {
            if case .responding(let exchange) = self.phase, !self.inputEnded, !readiness.contains(.error) {
                // A plain request's client half-closed (or left) while its pipelined bytes were
                // not being read: answer what it asked, then close.
                self.inputEnded = true
                exchange.keepAlive = false
            } else {
                // The client left while it was not being read: what it sent last will never be read
                // (and cannot be, while paused), and it waits for nothing more. End the session now
                // rather than at the next keepalive, which may never come.
                self.log.debug("session.hangup_while_paused", [("readiness", readiness)])
                self.receivedEOF()
                return
            }
        }
        if !readiness.isDisjoint(with: [.readable, .hangup, .error]) {
            self.readAvailable()
        }
        if case .closed = self.phase { return }
        self.flush()
    }

    /// Reads until the socket is drained, up to a fairness bound so one busy client cannot starve the rest.
    func readAvailable() {
        guard self.registration != nil else { return }  // torn down since this was scheduled
        let buffer = self.server.readBuffer
        var reads = 0
        while reads < 4 && !self.readingPaused && !self.readingPausedByHandler && !self.inputEnded
            && !self.pendingInputIsFull
        {
            let result: IOResult<Int>
            do {
                result = try self.transport.read(into: buffer)
            } catch {
                self.readFailed(error)
                return
            }
            guard case .processed(let count) = result else { return }
            guard count > 0 else {
                self.receivedEOF()
                return
            }
            self.bytesIn += count
            self.lastReceivedNanoseconds = self.server.loop.nowInNanoseconds
            self.process(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
            if case .closed = self.phase { return }
            reads += 1
            if count < buffer.count && !self.transport.hasBufferedInput { return }
        }
        self.comeBackForBufferedInput()
    }

    /// Input a transport holds (plaintext OpenSSL decrypted, records read with others) is never
    /// reported by epoll, so a session that stopped reading with some held comes back for it
    /// itself: after the loop's other ready descriptors, as the fairness bound intends.
    func comeBackForBufferedInput() {
        guard self.transport.hasBufferedInput, !self.readingPaused, !self.readingPausedByHandler,
            !self.inputEnded, !self.pendingInputIsFull, self.registration != nil
        else { return }
        self.server.loop.runSoon { [self] in
            if case .closed = self.phase { return }
            self.handle(.readable)
        }
    }

    func readFailed(_ error: TransportError) {
        switch error {
        case .system(let failure):
            self.log.debug("session.read_error", [("error", failure)])
        case .refused(let reason):
            // A TLS handshake that failed (plain HTTP or garbage on a TLS port, a refused client
            // certificate) or a record that did not decrypt: worth a line, it costs no other session.
            self.log.info(self.phaseIsHandshaking ? "tls.handshake_failed" : "tls.error", [("reason", reason)])
        }
        self.teardown(reason: "read failed: \(error.name)")
    }

    var phaseIsHandshaking: Bool {
        if case .handshaking = self.phase { return true }
        return false
    }

    func process(_ bytes: UnsafeMutableRawBufferPointer) {
        switch self.phase {
        case .handshaking(var parser):
            if self.awaitingNextRequest {
                // The next request on a kept-alive connection has begun: now its head has the
                // handshake timeout to arrive in.
                self.awaitingNextRequest = false
                self.cancelTimer(&self.handshakeTimer)
                self.armHandshakeTimer()
            }
            do throws(HTTPHeadParser.Failure) {
                guard let (head, rest) = try parser.feed(bytes) else {
                    self.phase = .handshaking(parser)
                    return
                }
                self.handleRequest(head, rest: rest)
            } catch {
                self.reject(HandshakeFailure(error).response, logAs: "handshake.malformed")
            }
        case .open(let connection):
            // Messages whole in the read buffer are lent to the handler: every event is taken in
            // `handleConnection`, before the buffer is read into again.
            connection.receive(mutating: bytes, lendingMessages: true)
            self.handleConnection(connection)
        case .preparing(var waiting):
            // Not normally read while preparing; anything that was is kept for the connection.
            waiting.rest.append(contentsOf: bytes)
            self.phase = .preparing(waiting)
        case .readingBody(let pending):
            self.receiveBody(pending, bytes)
        case .responding:
            self.pendingInput.append(contentsOf: bytes)
        case .rejecting, .closed:
            break  // draining what the client still sends before it sees our close
        }
    }

    func receivedEOF() {
        if case .responding(let exchange) = self.phase, !self.inputEnded {
            // A client may half-close after its request: the response still goes out, then the close.
            self.inputEnded = true
            exchange.keepAlive = false
            return
        }
        if case .open(let connection) = self.phase, connection.state != .closed {
            connection.receiveEOF()
        }
        self.teardown(reason: "connection closed by peer")
    }

    /// Hands the connection's events to the handler, then queues everything the connection produced.
    ///
    /// Output is taken only after the events: taking it is what queues the reply to a peer's close,
    /// and the handler's answers to the messages before that close must go first.
    func handleConnection(_ connection: Connection) {
        while let lent = connection.nextLentEvent() {
            switch lent {
            case .text(let bytes):
                self.messageArrived()
                self.handler?.session(self, didReceive: bytes, isText: true)
            case .binary(let bytes):
                self.messageArrived()
                self.handler?.session(self, didReceive: bytes, isText: false)
            case .other(let event):
                self.handle(event, from: connection)
            }
        }
        self.pullOutput(connection)
    }

    private func messageArrived() {
        self.messagesIn += 1
        self.lastMessageNanoseconds = self.server.loop.nowInNanoseconds
    }

    /// An event other than a lent message.
    private func handle(_ event: Connection.Event, from connection: Connection) {
        switch event {
        case .text(let text):
            self.messageArrived()
            self.handler?.session(self, didReceive: .text(text))
        case .binary(let bytes):
            self.messageArrived()
            self.handler?.session(self, didReceive: .binary(bytes))
        case .close:
            if self.handler?.sessionDidReceiveClose(self) == true {
                connection.holdCloseReply()
                self.armCloseTimer()
            }
        case .pong:
            self.pongReceived()
        case .ping:
            break  // pongs are automatic
        }
    }

    /// Moves the connection's output onto the socket queue, control frames first.
    func pullOutput(_ connection: Connection) {
        guard connection.hasPendingOutput else { return }
        let output = connection.takePendingOutput(recycling: &self.queue.spare)
        self.queue.appendUrgent(output.control)
        self.queue.append(connectionData: output.data)
        if output.endOfStream {
            self.endOfStreamRequested = true
        }
        if connection.closeExpected && self.closeTimer == nil {
            self.armCloseTimer()
        }
    }

    /// Writes the queue; watches for writability only while bytes remain, and applies backpressure.
    func flush() {
        self.isQueuedForFlush = false
        if let connection = self.connection { self.pullOutput(connection) }
        do {
            // A plain response's body is produced (a file read or sent) only once the queue is
            // written, so that it takes no more memory than the queue allows; a bounded number of
            // rounds, so that one large file does not starve the loop's other connections.
            for _ in 0..<16 {
                if !self.queue.isEmpty {
                    if case .processed(let written) = try self.queue.write(to: self.transport) {
                        self.bytesOut += written
                    }
                } else if self.transport.hasPendingOutput {
                    try self.transport.flushPendingOutput()
                }
                guard case .responding(let exchange) = self.phase, self.queue.isEmpty,
                    !self.transport.hasPendingOutput
                else { break }
                if exchange.isComplete {
                    self.finishExchange(exchange)
                    continue
                }
                guard try exchange.produce(on: self.transport, readBuffer: self.server.readBuffer) else { break }
            }
        } catch {
            self.log.debug("session.write_error", [("error", error)])
            self.teardown(reason: "write failed: \(error.name)")
            return
        }
        if self.queue.isEmpty && self.endOfStreamRequested && !self.writeShutDown {
            self.shutDownWrite()
        }
        // RFC-agnostic flow control: a client that does not read its replies stops being read.
        let limit = self.settings.maxQueuedBytes
        if self.readingPaused && self.queue.count <= limit / 2 {
            self.readingPaused = false
            self.log.debug("session.read_resumed", [("cause", "send_queue")])
            self.handler?.sessionDidDrainOutput(self)
            if case .responding(let exchange) = self.phase { exchange.onDrain?() }
            self.comeBackForBufferedInput()
        } else if !self.readingPaused && self.queue.count > limit {
            self.readingPaused = true
            self.log.debug("session.read_paused", [("cause", "send_queue"), ("queued_bytes", self.queue.count)])
        }
        self.updateInterest()
    }

    /// Sends FIN after the last byte, then keeps reading until the client closes too, so that data
    /// it sent meanwhile does not make the kernel answer with a reset that could destroy our close
    /// frame or error response in flight.
    func shutDownWrite() {
        self.writeShutDown = true
        // Over TLS, close_notify goes out first, after the close frame (RFC 8446 §6.1).
        try? self.transport.shutdownWrite()
        if self.closeTimer == nil { self.armCloseTimer() }
        if case .open(let connection) = self.phase, connection.state == .closed {
            self.teardown(reason: "closed")
        } else if self.inputEnded {
            self.teardown(reason: "closed")  // both directions are done: nothing left to drain
        }
    }

    func updateInterest() {
        guard let registration = self.registration else { return }
        // Paused, the client is not read, but its leaving is still watched for (see `handle`).
        var exchangeWaitsToWrite = false
        if case .responding(let exchange) = self.phase { exchangeWaitsToWrite = exchange.wantsWritable }
        var interest = self.transport.interest(reading: self.readsSocket,
                                               writing: !self.queue.isEmpty || exchangeWaitsToWrite)
        if self.inputEnded {
            // After the client's end of stream, epoll would report it again at every wait.
            interest.subtract([.readable, .hangup])
        }
        do {
            try self.server.loop.modify(registration, interest: interest)
        } catch {
            self.log.error("session.epoll_error", [("error", error)])
            self.teardown(reason: "epoll failed")
        }
    }

    /// Queues an HTTP error response, then ends the connection once it is written.
    func reject(_ response: HTTPResponse, logAs event: String) {
        self.cancelTimer(&self.handshakeTimer)
        self.log.info(event, [("status", response.status), ("reason", response.body)])
        if case .responding(let exchange) = self.phase {
            // A plain request no responder took, refused as before the dispatch existed.
            self.logRequest(exchange, status: response.status, bytes: response.body.utf8.count)
            exchange.end()
        } else {
            self.server.metrics?.handshakeFailed(status: response.status)
        }
        self.phase = .rejecting
        var response = response
        response.headers.append(contentsOf: self.settings.headers)
        response.headers.append(contentsOf: self.settings.refusalHeaders)
        self.queue.appendHTTPResponse(response.serialized())
        self.endOfStreamRequested = true
    }

    /// Closes the socket and tells the handler; safe to call more than once.
    func teardown(reason: String) {
        if case .closed = self.phase { return }
        let wasOpen = self.connection
        if case .responding(let exchange) = self.phase {
            self.logRequest(exchange, status: exchange.status, bytes: exchange.bodyBytes, cancelled: true)
            exchange.cancel()
        }
        self.phase = .closed
        self.cancelTimer(&self.handshakeTimer)
        self.cancelTimer(&self.keepaliveTimer)
        self.cancelTimer(&self.idleTimer)
        self.cancelTimer(&self.closeTimer)
        if let registration = self.registration {
            self.server.loop.deregister(registration)
            self.registration = nil
        }
        self.transport.close()
        if let connection = wasOpen {
            let code = connection.closeCode ?? connection.closeSent?.code ?? .abnormalClosure
            let text = connection.closeReason ?? connection.closeSent?.reason ?? ""
            self.log.access("session.close", [
                ("handler", self.handlerName),
                ("code", code.rawValue), ("close_reason", text),
                ("duration_ms", (self.server.loop.now - self.openedAt).milliseconds),
                ("bytes_in", self.bytesIn), ("bytes_out", self.bytesOut),
                ("messages_in", self.messagesIn), ("messages_out", self.messagesOut),
            ])
            self.routeMetrics?.fold(self, code: code.rawValue)
            self.routeMetrics = nil
            let handler = self.handler
            self.handler = nil
            handler?.sessionDidClose(self, code: code, reason: text)
            self.server.onceEnded(self, code: code == .abnormalClosure ? nil : code)
        } else {
            self.log.debug("connection.close", [("reason", reason)])
            self.server.releaseOnce(for: self)  // it never opened: the next request may have the turn
        }
        self.server.sessionDidEnd(self)
    }
}

extension Duration {
    var milliseconds: Int64 {
        let parts = self.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
