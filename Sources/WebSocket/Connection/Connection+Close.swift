extension Connection {
    /// Starts the closing handshake (RFC 6455 §7.1.2).
    ///
    /// The close frame goes after every message queued before it. The reason is cut, at a character
    /// boundary, to the 123 bytes a close frame has room for.
    /// - Parameter code: nil sends a close frame with no code (received as 1005).
    public func close(code: CloseCode? = .normalClosure, reason: String = "") throws(ConnectionStateError) {
        guard self.state == .open else { throw ConnectionStateError(operation: "close", state: self.state) }
        if let code {
            precondition(code.isSendable, "close code \(code.rawValue) may not be sent")
        }
        self.sendClose(code: code, reason: reason)
    }

    /// Fails the connection (RFC 6455 §7.1.7): sends a close frame with `code` if none was sent yet,
    /// drops everything the peer sends from now on, and on the server side ends the TCP connection
    /// at once. A client waits for the server to close it, within the caller's timeout.
    ///
    /// A code that may not go on the wire (1006 "abnormal closure", say) sends no close frame and
    /// ends the TCP connection on either side: RFC 6455 §7.4.1 says 1005, 1006 and 1015 "MUST NOT be
    /// set as a status code in a Close control frame by an endpoint".
    public func fail(code: CloseCode, reason: String = "") {
        self.log?.debug("! failing: \(code) \(reason)")
        if self.state == .open {
            if code.isSendable {
                self.sendClose(code: code, reason: reason)
            } else {
                self.setState(.closing)
            }
        }
        self.parser = .discard
        self.message = nil
        if self.side == .server || !code.isSendable {
            self.sendEndOfStream()
        }
    }

    /// Fails the connection for a fault found while receiving. The close frame is owed rather than
    /// queued at once: the messages parsed before the fault were valid, and the answers to them,
    /// sent while handling their events, go out first. Nothing the peer sends is read any more.
    func fail(_ violation: ProtocolViolation) {
        self.log?.debug("! failing: \(violation.closeCode) \(violation.reason)")
        self.parser = .discard
        self.message = nil
        guard self.state == .open else {
            if self.side == .server { self.sendEndOfStream() }
            return
        }
        self.owedClose = .failure(violation)
        self.setState(.closing)
    }

    func sendClose(code: CloseCode?, reason: String) {
        var payload: [UInt8] = []
        var sentReason = ""
        if let code {
            payload = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
            sentReason = Self.truncated(reason, toUTF8Count: 123)
            payload.append(contentsOf: sentReason.utf8)
        }
        payload.withUnsafeBytes { self.appendFrame(.close, $0, to: .data) }
        self.closeSent = (code, sentReason)
        self.setState(.closing)
    }

    func sendEndOfStream() {
        if !self.endOfStreamSent {
            self.endOfStreamPending = true
        }
    }

    /// Handles the peer's close frame (RFC 6455 §5.5.1, §7.1.5).
    func receiveClose(_ payload: UnsafeRawBufferPointer) throws(ProtocolViolation) {
        self.log?.debug("< CLOSE \(describePayload(.close, payload))")
        var code: CloseCode?
        var reason = ""
        if payload.count == 1 {
            throw .oneByteClosePayload
        }
        if payload.count >= 2 {
            let received = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
            // 1012–1014 are codes servers send (restart, overload, bad gateway): a client takes them.
            let allowed = self.side == .client ? received.isSendable : received.isAllowedOnWire
            guard allowed else { throw .badCloseCode(received.rawValue) }
            let reasonBytes = UnsafeRawBufferPointer(rebasing: payload[2...])
            // RFC 6455 §5.5.1: the reason's data "is not guaranteed to be human readable" but is UTF-8.
            guard UTF8Validator.isValid(reasonBytes) else { throw .invalidCloseReason }
            code = received
            reason = String(decoding: reasonBytes, as: UTF8.self)
        }
        self.closeReceived = (code, reason)
        self.emit(.close(code, reason))
        self.parser = .discard
        self.message = nil
        if self.state == .open {
            // RFC 6455 §5.5.1: "the endpoint MUST send a Close frame in response", typically echoing
            // the status code it received, and it "MAY delay sending a Close frame until its current
            // message is sent". The reply is queued when the output is next taken, so that answers
            // to the messages that came before the close, sent while handling these events, go first.
            self.owedClose = .reply(Array(payload))
            self.setState(.closing)
            return
        }
        self.finishClosingHandshake()
    }

    /// Holds back the reply to the peer's close frame until `releaseCloseReply()`, so that what is still
    /// owed to the peer can be sent first (a gateway forwarding a program's last output, say).
    ///
    /// RFC 6455 §5.5.1 asks for the reply "as soon as practical" and lets it wait for the current
    /// message: bound the wait with a timer. Does nothing unless a close was just received.
    public func holdCloseReply() {
        if case .reply = self.owedClose { self.closeReplyHeld = true }
    }

    /// Lets the held reply to the peer's close go out with the next output.
    public func releaseCloseReply() {
        self.closeReplyHeld = false
    }

    /// Queues the close frame owed, if any (see `owedClose`).
    func sendOwedClose() {
        guard let owed = self.owedClose, !self.closeReplyHeld else { return }
        self.owedClose = nil
        guard self.state == .closing else { return }  // the peer's EOF came first: nobody to tell
        switch owed {
        case .reply(let payload):
            payload.withUnsafeBytes { self.appendFrame(.close, $0, to: .data) }
            self.closeSent = self.closeReceived
            self.finishClosingHandshake()
        case .failure(let violation):
            let reason = Self.truncated(violation.reason, toUTF8Count: 123)
            var payload = [UInt8(violation.closeCode.rawValue >> 8), UInt8(violation.closeCode.rawValue & 0xFF)]
            payload.append(contentsOf: reason.utf8)
            payload.withUnsafeBytes { self.appendFrame(.close, $0, to: .data) }
            self.closeSent = (violation.closeCode, reason)
            // RFC 6455 §7.1.7: a server fails the connection by closing TCP without waiting.
            if self.side == .server { self.sendEndOfStream() }
        }
    }

    /// Both close frames have passed. RFC 6455 §7.1.1: "the server MUST close the underlying TCP
    /// connection immediately"; the client waits for the server to do so.
    func finishClosingHandshake() {
        if self.side == .server {
            self.sendEndOfStream()
        }
    }

    static func truncated(_ text: String, toUTF8Count limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var count = 0
        var result = ""
        for character in text {
            let size = character.utf8.count
            guard count + size <= limit else { break }
            count += size
            result.append(character)
        }
        return result
    }
}
