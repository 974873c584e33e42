import Foundation

/// Helpers for the client-tool tests: the built `wsgate` run as `client`, `send` or `bench` with
/// its stdin, stdout and stderr on pipes, and raw TCP servers that answer a handshake wrongly.

/// One `wsgate` subcommand as a child process: stdin is ours to write and close, stdout and stderr
/// are drained on their own threads so the child never blocks on a full pipe.
final class WsgateClientProcess: @unchecked Sendable {
    let process = Process()
    private let input: FileHandle
    private let lock = NSLock()
    private var stdoutBytes: [UInt8] = []
    private var stderrBytes: [UInt8] = []
    private let readers = DispatchGroup()
    /// The exit status once `runWsgate` waited for it.
    var status: Int32?

    /// - Parameter memoryLimit: run under `ulimit -v` this many KiB (through `sh -c '…; exec wsgate'`,
    ///   so the pid is still wsgate's): an allocation past it fails and the client dies.
    init(_ arguments: [String], memoryLimit: Int? = nil) throws {
        if let memoryLimit {
            self.process.executableURL = URL(fileURLWithPath: "/bin/sh")
            self.process.arguments = ["-c", "ulimit -v \(memoryLimit) && exec \"$0\" \"$@\"", try WsgateProcess.binary().path]
                + arguments
        } else {
            self.process.executableURL = try WsgateProcess.binary()
            self.process.arguments = arguments
        }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        self.process.standardInput = stdin
        self.process.standardOutput = stdout
        self.process.standardError = stderr
        self.input = stdin.fileHandleForWriting
        try self.process.run()
        self.drain(stdout.fileHandleForReading) { $0.stdoutBytes += $1 }
        self.drain(stderr.fileHandleForReading) { $0.stderrBytes += $1 }
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    private func drain(_ handle: FileHandle, into append: @escaping @Sendable (WsgateClientProcess, [UInt8]) -> Void) {
        self.readers.enter()
        let transfer = UnsafeTransfer(handle)
        Thread.detachNewThread { [self] in
            while true {
                let data = transfer.value.availableData
                if data.isEmpty { break }
                self.lock.withLock { append(self, Array(data)) }
            }
            self.readers.leave()
        }
    }

    /// Writes to the child's stdin (a pipe: small writes never block).
    func write(_ text: String) {
        self.write(Array(text.utf8))
    }

    func write(_ bytes: [UInt8]) {
        try? self.input.write(contentsOf: Data(bytes))
    }

    /// End of input: what Ctrl-D is at a terminal.
    func closeInput() {
        try? self.input.close()
    }

    var stdoutData: [UInt8] { self.lock.withLock { self.stdoutBytes } }
    var stdout: String { String(decoding: self.stdoutData, as: UTF8.self) }
    var stderr: String { self.lock.withLock { String(decoding: self.stderrBytes, as: UTF8.self) } }
    var stdoutLines: [String] { self.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    /// Waits up to `timeout` seconds until stdout holds `count` complete lines; returns them.
    @discardableResult
    func waitForLines(_ count: Int, timeout: Double = 10) throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while self.stdoutLines.count < count {
            guard Date() < deadline, self.process.isRunning else {
                throw TestFailure("wanted \(count) lines on stdout, got \(self.stdoutLines); stderr: \(self.stderr)")
            }
            usleep(5_000)
        }
        return self.stdoutLines
    }

    /// The exit status, waiting up to `timeout` seconds; nil (after killing the child) when it did not exit.
    /// Also waits, bounded, for the readers to see EOF, so stdout and stderr are complete.
    func waitForExit(timeout: Double = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while self.process.isRunning && Date() < deadline { usleep(5_000) }
        guard !self.process.isRunning else {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
            _ = self.readers.wait(timeout: .now() + 2)
            return nil
        }
        self.process.waitUntilExit()
        _ = self.readers.wait(timeout: .now() + 5)
        return self.process.terminationStatus
    }
}

/// Runs `wsgate ARGUMENTS` with `input` on stdin (then EOF), bounded by `timeout` seconds.
func runWsgate(_ arguments: [String], input: String = "", timeout: Double = 10, memoryLimit: Int? = nil) throws
    -> WsgateClientProcess
{
    try runWsgate(arguments, bytes: Array(input.utf8), timeout: timeout, memoryLimit: memoryLimit)
}

/// Runs `wsgate ARGUMENTS` with `bytes` on stdin (then EOF); the finished process, with `status`
/// nil when it had to be killed after `timeout` seconds.
func runWsgate(_ arguments: [String], bytes: [UInt8], timeout: Double = 10, memoryLimit: Int? = nil) throws
    -> WsgateClientProcess
{
    let child = try WsgateClientProcess(arguments, memoryLimit: memoryLimit)
    child.write(bytes)
    child.closeInput()
    child.status = child.waitForExit(timeout: timeout)
    return child
}

/// The peak resident memory of a running process in KiB (VmHWM in /proc/PID/status), or nil once it is gone.
func peakResidentKiB(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
    return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
}

/// A loopback port that nothing listens on: bound (so the kernel picked it), then closed.
func closedLoopbackPort() throws -> UInt16 {
    let listener = try RawTCPServer(response: { _ in "" }, listen: false)
    defer { listener.stop() }
    return listener.port
}

/// A TCP server on a free loopback port that reads one request head per connection, writes
/// `response(head)` and closes: an HTTP server that is not a WebSocket server, or one that
/// answers the handshake wrongly. Serves connections until stopped; every wait is bounded.
final class RawTCPServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let stopped = NSLock()
    private var isStopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(response: @escaping @Sendable (String) -> String, listen shouldListen: Bool = true) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound, !shouldListen || listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("bind or listen failed")
        }
        self.fd = fd
        self.port = UInt16(bigEndian: address.sin_port)
        guard shouldListen else {
            self.finished.signal()
            return
        }
        Thread.detachNewThread { [self] in
            self.serve(response)
            self.finished.signal()
        }
    }

    deinit {
        self.stop()
    }

    private var shouldStop: Bool { self.stopped.withLock { self.isStopped } }

    private func serve(_ response: (String) -> String) {
        while !self.shouldStop {
            var descriptor = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            let connection = accept(self.fd, nil, nil)
            guard connection >= 0 else { continue }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                request.append(contentsOf: buffer[0..<count])
            }
            let answer = Array(response(String(decoding: request, as: UTF8.self)).utf8)
            _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(connection, Int32(SHUT_WR))
            // Let the client read the answer before the socket goes (a close with unread input would reset it).
            var peer = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            _ = poll(&peer, 1, 1000)
            close(connection)
        }
    }

    func stop() {
        let first = self.stopped.withLock {
            defer { self.isStopped = true }
            return !self.isStopped
        }
        guard first else { return }
        _ = self.finished.wait(timeout: .now() + 5)
        close(self.fd)
    }
}

/// The value of header `name` (case-insensitive) in a request head, or nil.
func headerValue(_ name: String, in head: String) -> String? {
    for line in head.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].lowercased() == name.lowercased() {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}
