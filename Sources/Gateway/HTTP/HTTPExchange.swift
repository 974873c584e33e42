import Reactor
import WebSocket

/// A response body, as a responder hands it over.
public enum HTTPBody {
    case empty
    case bytes([UInt8])
    /// `range` of a file (the whole file when nil), sent with `sendfile(2)` on a plain socket and
    /// read in bounded chunks over TLS; the exchange closes the file when it is done.
    case file(RegularFile, range: ClosedRange<Int64>?)
    /// Bytes the responder sends later with `send` and ends with `finish`: with `length`, sent
    /// with `Content-Length`; without, chunked for HTTP/1.1 and ended by closing the connection for
    /// HTTP/1.0.
    case stream(length: Int64?)
}

/// One plain HTTP request on a connection and its response: what a responder answers through.
///
/// The session owns it while it lasts (`Session.Phase.responding`); it writes the response into
/// the session's send queue, so a response goes out under the same bound as WebSocket frames: a
/// file is only read (or `sendfile`d) when the socket is writable and the queue is empty, and a
/// streaming responder hears `onDrain` when a full queue has drained to half.
///
/// Everything here runs on the loop thread.
public final class HTTPExchange {
    public let request: HTTPRequest
    /// Strong while the exchange lasts, nil once it has ended (as `ProcessHandler.session`).
    var session: Session?
    let startedAt: ContinuousClock.Instant
    /// The connection stays open for another request after this response.
    var keepAlive: Bool
    /// Set by the dispatch to the responder that took the request.
    var responderName = "-"
    public private(set) var status: Int?
    /// Body bytes sent, not counting the head or chunk framing: the access log's `bytes`.
    private(set) var bodyBytes: Int64 = 0
    private var body = Pending.none
    /// The responder has produced all of the body.
    private(set) var isComplete = false
    /// Called when a queue that was over its bound has drained to half of it (stream bodies).
    public var onDrain: (() -> Void)?
    /// Called once if the connection ends before the response is complete.
    public var onCancel: (() -> Void)?

    /// What is left of the body to produce.
    enum Pending {
        case none
        case file(RegularFile, next: Int64, end: Int64)
        case stream(chunked: Bool, remaining: Int64?)
    }

    init(request: HTTPRequest, session: Session, keepAlive: Bool) {
        self.request = request
        self.session = session
        self.startedAt = session.server.loop.now
        self.keepAlive = keepAlive
    }

    /// Whether a response has been started.
    public var hasResponded: Bool { self.status != nil }

    /// Bytes waiting to be written to the client.
    public var queuedBytes: Int { self.session?.queue.count ?? 0 }

    /// Whether the client's queue is over its bound: a streaming responder stops producing until `onDrain`.
    public var isBehind: Bool { self.queuedBytes > (self.session?.server.configuration.maxQueuedBytes ?? 0) }

    /// Starts the response: queues the head, and the body unless the request is HEAD or the status
    /// has none. `Date`, `Content-Length` or `Transfer-Encoding`, `Connection` and the `--header`
    /// fields are added here. Responding twice is a responder's bug.
    public func respond(status: Int, reason: String? = nil, headers: [(name: String, value: String)] = [],
                        body: HTTPBody) {
        precondition(self.status == nil, "HTTPExchange.respond called twice")
        guard let session = self.session else {
            if case .file(let file, _) = body { file.close() }
            return
        }
        self.status = status
        let server = session.server
        var fields = headers
        fields.append(("Date", HTTPDate.format(WallClock.nanosecondsSinceEpoch() / 1_000_000_000)))
        fields.append(contentsOf: server.configuration.headers)
        // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.
        let bodiless = status == 204 || status == 304 || status < 200
        var payload: [UInt8] = []
        switch body {
        case .empty:
            if !bodiless { fields.append(("Content-Length", "0")) }
        case .bytes(let bytes):
            fields.append(("Content-Length", String(bytes.count)))
            payload = bytes
        case .file(let file, let range):
            let (start, length) = range.map { ($0.lowerBound, Int64($0.count)) } ?? (0, file.status.size)
            fields.append(("Content-Length", String(length)))
            if length > 0 && !self.request.isHead && !bodiless {
                self.body = .file(file, next: start, end: start + length)
            } else {
                file.close()
            }
        case .stream(let length):
            if bodiless {
                self.body = .stream(chunked: false, remaining: 0)
            } else if let length {
                fields.append(("Content-Length", String(length)))
                self.body = .stream(chunked: false, remaining: length)
            } else if self.request.version == "HTTP/1.1" {
                fields.append(("Transfer-Encoding", "chunked"))
                self.body = .stream(chunked: true, remaining: nil)
            } else {
                // HTTP/1.0 has no chunked coding: the end of the connection ends the body.
                self.keepAlive = false
                self.body = .stream(chunked: false, remaining: nil)
            }
        }
        if server.isShuttingDown { self.keepAlive = false }
        if !self.keepAlive {
            fields.append(("Connection", "close"))
        } else if self.request.version == "HTTP/1.0" {
            fields.append(("Connection", "keep-alive"))
        }
        let head = HTTPHead(startLine: .response(version: "HTTP/1.1", status: status,
                                                 reason: reason.flatMap { $0.isEmpty ? nil : $0 } ?? HTTPResponse.reasonPhrase(status)),
                            headers: fields)
        session.queue.append(head.serialized())
        if !payload.isEmpty && !self.request.isHead && !bodiless {
            session.queue.append(payload)
            self.bodyBytes += Int64(payload.count)
        }
        if case .stream = self.body {} else { self.isComplete = self.isFileDone }
        session.outputChanged()
    }

    /// A short plain-text response (errors, redirects).
    public func respond(status: Int, headers: [(name: String, value: String)] = [], text: String) {
        var fields = headers
        fields.append(("Content-Type", "text/plain; charset=utf-8"))
        self.respond(status: status, headers: fields, body: .bytes(Array((text.hasSuffix("\n") ? text : text + "\n").utf8)))
    }

    private var isFileDone: Bool {
        if case .file = self.body { return false }
        return true
    }

    /// Queues body bytes of a `.stream` response (dropped for HEAD; cut at the announced length).
    public func send(_ bytes: UnsafeRawBufferPointer) {
        guard let session = self.session, case .stream(let chunked, let remaining) = self.body, !bytes.isEmpty,
            !self.isComplete
        else { return }
        var bytes = bytes
        if let remaining {
            bytes = UnsafeRawBufferPointer(rebasing: bytes.prefix(Int(clamping: remaining)))
            self.body = .stream(chunked: false, remaining: remaining - Int64(bytes.count))
            // The announced length is reached: the response is complete, whatever else comes.
            if remaining == Int64(bytes.count) { self.isComplete = true }
            if bytes.isEmpty { return }
        }
        if self.request.isHead { return }
        if chunked { session.queue.append(Array((String(bytes.count, radix: 16) + "\r\n").utf8)) }
        session.queue.append(Array(bytes))
        if chunked { session.queue.append([0x0D, 0x0A]) }
        self.bodyBytes += Int64(bytes.count)
        session.outputChanged()
    }

    /// Ends a `.stream` body. One that announced a length and fell short ends the connection,
    /// the only way left to tell the client the body is incomplete.
    public func finish() {
        guard let session = self.session, case .stream(let chunked, let remaining) = self.body, !self.isComplete
        else { return }
        if chunked && !self.request.isHead { session.queue.append(Array("0\r\n\r\n".utf8)) }
        if let remaining, remaining > 0 { self.keepAlive = false }
        if remaining == nil && !chunked { self.keepAlive = false }
        self.isComplete = true
        session.outputChanged()
    }

    /// Ends the response early: nothing more can be sent that the client could trust, so the
    /// connection closes once what is queued is written.
    public func abort() {
        self.keepAlive = false
        if case .file(let file, _, _) = self.body { file.close() }
        self.body = .none
        self.isComplete = true
        self.session?.outputChanged()
    }

    /// Whether the body still has file bytes to go out once the queue is empty: the session then
    /// waits for the socket to be writable.
    var wantsWritable: Bool {
        if case .file = self.body { return true }
        return false
    }

    /// Sends more of a file body: with `sendfile(2)` when the transport can, else a chunk read
    /// into the queue (TLS). Called by the session when its queue is empty.
    /// - Returns: whether anything was sent or queued.
    func produce(on transport: any Transport, readBuffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Bool {
        guard case .file(let file, let next, let end) = self.body else { return false }
        let count = Int(min(end - next, 1 << 20))
        var sent = 0
        if let result = try transport.sendFile(file, from: next, count: count) {
            guard case .processed(let written) = result else { return false }
            sent = written
        } else {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<min(count, readBuffer.count)])
            do { sent = try file.read(into: chunk, at: next) } catch { throw .system(error) }
            self.session?.queue.append(Array(UnsafeRawBufferPointer(rebasing: chunk[0..<sent])))
        }
        if sent == 0 {
            // The file shrank under us: the promised length can no longer be kept.
            self.session?.log.info("http.file_truncated", [("path", self.request.path)])
            self.abort()
            return false
        }
        self.bodyBytes += Int64(sent)
        if next + Int64(sent) >= end {
            file.close()
            self.body = .none
            self.isComplete = true
        } else {
            self.body = .file(file, next: next + Int64(sent), end: end)
        }
        return true
    }

    /// The connection ended first: release the file, tell the responder.
    func cancel() {
        if case .file(let file, _, _) = self.body { file.close() }
        self.body = .none
        self.session = nil
        let onCancel = self.onCancel
        self.onCancel = nil
        self.onDrain = nil
        onCancel?()
    }

    /// The response is written: let go of the session.
    func end() {
        self.session = nil
        self.onCancel = nil
        self.onDrain = nil
    }
}
