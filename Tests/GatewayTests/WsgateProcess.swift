import Foundation

/// The built `wsgate` binary, run as a child process with its stderr captured.
///
/// `swift test` builds every product into the same directory as the test bundle, so the binary is
/// found next to this process's own executable (whatever `--scratch-path` was used); `WSGATE_BIN`
/// overrides that.
final class WsgateProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var stderrBytes: [UInt8] = []
    private var stdoutBytes: [UInt8] = []
    private let readers = DispatchGroup()

    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["WSGATE_BIN"] {
            return URL(fileURLWithPath: path)
        }
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("wsgate")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate.path)
            {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        throw TestFailure("wsgate binary not found next to \(CommandLine.arguments[0]); set WSGATE_BIN")
    }

    /// - Parameter fileLimit: run under `ulimit -n` this low (through `sh -c '…; exec wsgate'`, so the
    ///   pid is still wsgate's).
    /// - Parameter shell: `arguments` are `/bin/sh`'s (a script that ends by exec'ing wsgate).
    init(_ arguments: [String], fileLimit: Int? = nil, shell: Bool = false) throws {
        if shell {
            self.process.executableURL = URL(fileURLWithPath: "/bin/sh")
            self.process.arguments = arguments
        } else if let fileLimit {
            self.process.executableURL = URL(fileURLWithPath: "/bin/sh")
            self.process.arguments = ["-c", "ulimit -n \(fileLimit) && exec \"$0\" \"$@\"", try Self.binary().path] + arguments
        } else {
            self.process.executableURL = try Self.binary()
            self.process.arguments = arguments
        }
        let stderr = Pipe()
        let stdout = Pipe()
        self.process.standardError = stderr
        self.process.standardOutput = stdout
        self.process.standardInput = FileHandle.nullDevice
        try self.process.run()
        self.drain(stderr.fileHandleForReading) { self.stderrBytes += $0 }
        self.drain(stdout.fileHandleForReading) { self.stdoutBytes += $0 }
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    /// Reads `handle` to EOF on its own thread, so the child never blocks on a full pipe.
    private func drain(_ handle: FileHandle, into append: @escaping @Sendable ([UInt8]) -> Void) {
        self.readers.enter()
        let readers = self.readers
        let lock = self.lock
        let transfer = UnsafeTransfer(handle)
        Thread.detachNewThread {
            while true {
                let data = transfer.value.availableData
                if data.isEmpty { break }
                lock.withLock { append(Array(data)) }
            }
            readers.leave()
        }
    }

    var stderr: String { self.lock.withLock { String(decoding: self.stderrBytes, as: UTF8.self) } }
    var stdout: String { self.lock.withLock { String(decoding: self.stdoutBytes, as: UTF8.self) } }

    /// The first stderr line containing `text`, waiting up to `timeout` seconds for it.
    func waitForLine(containing text: String, timeout: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let line = self.stderr.split(separator: "\n").first(where: { $0.contains(text) }) {
                return String(line)
            }
            guard Date() < deadline, self.process.isRunning else {
                throw TestFailure("no '\(text)' on wsgate's stderr; it said: \(self.stderr)")
            }
            usleep(10_000)
        }
    }

    /// The port of the first `event=server.listen` line.
    func listeningPort(timeout: Double = 10) throws -> UInt16 {
        let line = try self.waitForLine(containing: "event=server.listen", timeout: timeout)
        guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("address=") }),
            let colon = field.lastIndex(of: ":"), let port = UInt16(field[field.index(after: colon)...])
        else { throw TestFailure("no port in '\(line)'") }
        return port
    }

    /// The exit status, waiting up to `timeout` seconds; nil (after killing the child) when it did not exit.
    func waitForExit(timeout: Double = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while self.process.isRunning && Date() < deadline { usleep(10_000) }
        guard !self.process.isRunning else {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
            return nil
        }
        self.process.waitUntilExit()
        _ = self.readers.wait(timeout: .now() + 5)
        return self.process.terminationStatus
    }

    func signal(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }
}
