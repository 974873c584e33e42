import Foundation
import WebSocket

/// A plain TCP socket to the gateway, for what `BlockingClient` cannot do on purpose: send half a
/// request, stop reading, shrink its buffers. Every wait is bounded with `poll`.
final class RawClient {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`. Buffer sizes are set before connecting, so the TCP window is small from
    /// the start (a client that never reads then fills up quickly).
    init(port: UInt16, receiveBuffer: Int32? = nil, sendBuffer: Int32? = nil) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.fd >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(self.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if var size = sendBuffer {
            setsockopt(self.fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Foundation.close(self.fd)
            throw TestFailure("connect failed: errno \(errno)")
        }
        let flags = fcntl(self.fd, F_GETFL)
        _ = fcntl(self.fd, F_SETFL, flags | O_NONBLOCK)
    }

    private var isClosed = false

    deinit {
        if !self.isClosed { Foundation.close(self.fd) }
    }

    /// Closes the socket now: a FIN, or with `reset` a RST (SO_LINGER with a zero timeout), as a
    /// client that crashed or lost its network would.
    func close(reset: Bool = false) {
        guard !self.isClosed else { return }
        if reset {
            var option = linger(l_onoff: 1, l_linger: 0)
            setsockopt(self.fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        }
        Foundation.close(self.fd)
        self.isClosed = true
    }

    /// Waits until the socket is ready for `events`; false on timeout.
    private func poll(_ events: Int16, timeout: Double) -> Bool {
        var entry = pollfd(fd: self.fd, events: events, revents: 0)
        return Foundation.poll(&entry, 1, Int32(max(0, timeout * 1000))) > 0
    }

    /// Writes every byte, or throws when the peer stops taking them for `timeout` seconds.
    func send(_ bytes: [UInt8], timeout: Double = 5) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes {
                Foundation.send(self.fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EAGAIN {
                guard self.poll(Int16(POLLOUT), timeout: timeout) else { throw TestFailure("send timed out") }
            } else {
                throw TestFailure("send failed: errno \(errno)")
            }
        }
    }

    func send(_ text: String, timeout: Double = 5) throws {
        try self.send(Array(text.utf8), timeout: timeout)
    }

    /// Writes what the socket takes without waiting; returns the count (0 when it is full).
    func sendAvailable(_ bytes: ArraySlice<UInt8>) throws -> Int {
        let written = bytes.withUnsafeBytes { Foundation.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if written >= 0 { return written }
        if errno == EAGAIN { return 0 }
        throw TestFailure("send failed: errno \(errno)")
    }

    /// Bytes that arrive within `timeout`: an empty array means EOF; throws on timeout.
    func receive(timeout: Double = 5) throws -> [UInt8] {
        guard self.poll(Int16(POLLIN), timeout: timeout) else { throw TestFailure("receive timed out") }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            if errno == ECONNRESET { return [] }
            throw TestFailure("recv failed: errno \(errno)")
        }
        return Array(buffer[0..<count])
    }

    /// Everything until the peer closes; throws when it has not closed within `timeout` seconds.
    func receiveUntilEOF(timeout: Double = 5) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        var all: [UInt8] = []
        while true {
            let chunk = try self.receive(timeout: deadline.timeIntervalSinceNow)
            if chunk.isEmpty { return all }
            all += chunk
        }
    }

    /// Decodes what the server sends, starting with `early` bytes already read, until its close frame;
    /// returns every event, the close last. Throws when no close arrives within `timeout` seconds.
    func receiveUntilClose(after early: [UInt8] = [], timeout: Double = 5) throws -> [Connection.Event] {
        let connection = Connection(side: .client, configuration: .init(maxMessageSize: 64 << 20, autoPong: false))
        let deadline = Date().addingTimeInterval(timeout)
        var events: [Connection.Event] = []
        var bytes = early
        while true {
            connection.receive(bytes)
            events += connection.takeEvents()
            if case .close = events.last { return events }
            bytes = try self.receive(timeout: deadline.timeIntervalSinceNow)
            guard !bytes.isEmpty else { throw TestFailure("EOF before a close frame, after \(events.count) events") }
        }
    }

    /// Sends an upgrade request for `path` and reads the 101; returns the bytes after the head.
    func upgrade(_ path: String, timeout: Double = 5) throws -> [UInt8] {
        try self.upgradeSending(Array(upgradeRequest(path).utf8), timeout: timeout)
    }

    /// Sends `bytes` (a request, perhaps with frames after it) and reads the 101; returns the bytes after the head.
    func upgradeSending(_ bytes: [UInt8], timeout: Double = 5) throws -> [UInt8] {
        try self.send(bytes)
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            let chunk = try self.receive(timeout: deadline.timeIntervalSinceNow)
            guard !chunk.isEmpty else { throw TestFailure("closed during the handshake") }
            bytes += chunk
            if let range = bytes.firstRange(of: end) {
                let head = String(decoding: bytes[..<range.lowerBound], as: UTF8.self)
                guard head.hasPrefix("HTTP/1.1 101 ") else { throw TestFailure("not upgraded: \(head)") }
                return Array(bytes[range.upperBound...])
            }
        }
    }
}

/// A well-formed upgrade request, with `extra` header lines (each ending in "\r\n") added.
func upgradeRequest(_ target: String, extra: String = "") -> String {
    "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
}

/// A client frame built by hand: `first` is the whole first byte (FIN, RSV bits, opcode), so tests can
/// set what a well-behaved encoder never would. Masked unless `masked` is false.
func clientFrame(_ first: UInt8, _ payload: [UInt8], masked: Bool = true) -> [UInt8] {
    let key: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
    var frame = [first]
    let maskBit: UInt8 = masked ? 0x80 : 0
    switch payload.count {
    case ..<126: frame.append(maskBit | UInt8(payload.count))
    case ..<65536: frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
    default: frame.append(maskBit | 127); frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xff) }
    }
    if masked {
        frame += key
        frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    } else {
        frame += payload
    }
    return frame
}

/// The payload of a close frame: the code in network order, then the reason.
func closePayload(_ code: UInt16, _ reason: String = "") -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xff)] + Array(reason.utf8)
}

/// Events in bytes a server sent, decoded by a client-side `Connection` (so the test does not parse frames itself).
func serverEvents(_ bytes: [UInt8]) -> [Connection.Event] {
    let connection = Connection(side: .client, configuration: .init(maxMessageSize: 64 << 20, autoPong: false))
    connection.receive(bytes)
    return connection.takeEvents()
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass; returns whether it held.
func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// The status code of an HTTP response's status line, or nil.
func statusCode(_ response: String) -> Int? {
    let parts = response.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0] == "HTTP/1.1" else { return nil }
    return Int(parts[1])
}

/// The value of header `name` (case-insensitive) in an HTTP response, or nil.
func header(_ name: String, in response: String) -> String? {
    let head = response.components(separatedBy: "\r\n\r\n")[0]
    for line in head.components(separatedBy: "\r\n").dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].lowercased() == name.lowercased() {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}
