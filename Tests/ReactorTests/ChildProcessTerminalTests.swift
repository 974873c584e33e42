import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct ChildProcessTerminalTests {
        /// Spawns `script` under /bin/sh on a terminal, stderr to `standardError`.
        func spawnOnTerminal(_ script: String, standardError: ChildProcess.StandardIO = .inherit) throws -> ChildProcess {
            try ChildProcess.spawn(
                executable: "/bin/sh",
                arguments: ["-c", script],
                standardInput: .terminal,
                standardOutput: .terminal,
                standardError: standardError
            )
        }

        @Test func terminalIsStdinAndStdoutButNotStderr() throws {
            let process = try self.spawnOnTerminal(
                "test -t 0 && test -t 1 && echo tty; test -t 2 || echo 'stderr is no tty' >&2",
                standardError: .pipe
            )
            #expect(process.standardInput == nil)
            #expect(process.standardOutput == nil)
            let terminal = try #require(process.terminal)
            #expect(try terminal.fd.isNonBlocking())
            #expect(try terminal.fd.isCloseOnExec())
            #expect(try readToEnd(terminal) == "tty\n")
            #expect(try readToEnd(try #require(process.standardError)) == "stderr is no tty\n")
            #expect(try exitStatus(of: process) == .exited(0))
        }

        @Test func inputIsNotEchoedAndNewlinesStayNewlines() throws {
            let process = try self.spawnOnTerminal("read x; echo \"got $x\"")
            let terminal = try #require(process.terminal)
            #expect(try terminal.fd.write([UInt8]("hello\n".utf8)) == .processed(6))
            #expect(try readToEnd(terminal) == "got hello\n")
            #expect(try exitStatus(of: process) == .exited(0))
        }

        /// Raw mode: control characters, CR and bytes above 127 reach the program and come back
        /// unchanged; none of them becomes a signal, an end of file or a translation.
        @Test func terminalIsEightBitClean() throws {
            let process = try ChildProcess.spawn(executable: "cat", standardInput: .terminal, standardOutput: .terminal)
            let terminal = try #require(process.terminal)
            let sent = [UInt8](0...255)
            #expect(try terminal.fd.write(sent) == .processed(sent.count))
            var received: [UInt8] = []
            try readUntil(terminal, limit: .seconds(10)) { chunk in
                received += chunk
                return received.count >= sent.count
            }
            #expect(received == sent)
            terminal.close()
            #expect(try exitStatus(of: process) == .signaled(SIGHUP))
        }

        @Test func windowIsEightyByTwentyFour() throws {
            let process = try self.spawnOnTerminal("stty size")
            #expect(try readToEnd(try #require(process.terminal)) == "24 80\n")
            #expect(try exitStatus(of: process) == .exited(0))
        }

        /// A Python program that prints a line, sleeps 2 s without flushing, and prints another.
        /// PYTHONUNBUFFERED is removed from its environment, as it is set in some CI shells.
        func spawnSleepyPython(onTerminal: Bool) throws -> ChildProcess {
            var environment = currentEnvironment()
            environment["PYTHONUNBUFFERED"] = nil
            return try ChildProcess.spawn(
                executable: "python3",
                arguments: ["-c", "import time\nprint('first')\ntime.sleep(2)\nprint('second')"],
                environment: environment,
                standardInput: onTerminal ? .terminal : .discard,
                standardOutput: onTerminal ? .terminal : .pipe
            )
        }

        /// The point of a terminal: Python line-buffers stdout on one, so the first line comes
        /// while the program still sleeps.
        @Test(.enabled(if: ChildProcess.findExecutable("python3") != nil, "needs python3"))
        func pythonWritesEachLineAtOnce() throws {
            let process = try self.spawnSleepyPython(onTerminal: true)
            let lines = try lineArrivals(try #require(process.terminal))
            #expect(lines.map(\.text) == ["first", "second"])
            if lines.count == 2 {
                #expect(lines[0].chunk != lines[1].chunk)
                // 2 s apart when written; block buffering would deliver both in one read.
                #expect(lines[1].time - lines[0].time > .milliseconds(500))
            }
            #expect(try exitStatus(of: process) == .exited(0))
        }

        /// The control for the test above: on a pipe the same program holds the first line
        /// back until it exits, so both lines come in one read.
        @Test(.enabled(if: ChildProcess.findExecutable("python3") != nil, "needs python3"))
        func pythonHoldsLinesBackOnAPipe() throws {
            let process = try self.spawnSleepyPython(onTerminal: false)
            let lines = try lineArrivals(try #require(process.standardOutput))
            #expect(lines.map(\.text) == ["first", "second"])
            #expect(Set(lines.map(\.chunk)).count == 1)
            #expect(try exitStatus(of: process) == .exited(0))
        }

        @Test func childLeadsASessionWhoseControllingTerminalIsThePty() throws {
            let process = try ChildProcess.spawn(executable: "cat", standardInput: .terminal, standardOutput: .terminal)
            let terminal = try #require(process.terminal)
            defer {
                terminal.close()
                #expect((try? exitStatus(of: process)) == .signaled(SIGHUP))
            }
            let fields = try #require(statFields(of: process.pid))
            // After "pid (comm)": state ppid pgrp session tty_nr, fields 3 to 7 of proc(5).
            #expect(pid_t(fields[2]) == process.pid, "process group")
            #expect(pid_t(fields[3]) == process.pid, "session")
            // The kernel answers TIOCGSID on a master only when the slave is a session's
            // controlling terminal.
            #expect(tcgetsid(terminal.fd.rawValue) == process.pid)
            #expect(tcgetpgrp(terminal.fd.rawValue) == process.pid)
            var slave = stat()
            try #require(stat("/proc/\(process.pid)/fd/0", &slave) == 0)
            // tty_nr and st_rdev share their low 32 bits for every major below 4096.
            #expect(UInt64(fields[4]) == UInt64(slave.st_rdev & 0xffff_ffff), "tty_nr")
        }

        @Test func afterExitReadsReturnTheRestThenEndOfStream() throws {
            var pid: pid_t = 0
            try expectNoDescriptorLeak {
                let process = try self.spawnOnTerminal("echo one; echo two")
                pid = process.pid
                let terminal = try #require(process.terminal)
                defer { terminal.close() }
                #expect(try exitStatus(of: process) == .exited(0))
                // The slave is closed everywhere now; the master still holds the output.
                var output: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                var ends = 0
                var attempts = 0
                while ends < 2 && attempts < 1000 {
                    switch try buffer.withUnsafeMutableBytes({ try terminal.read(into: $0) }) {
                    case .processed(0): ends += 1
                    case .processed(let count): output += buffer[..<count]
                    case .wouldBlock: usleep(10_000)
                    }
                    attempts += 1
                }
                #expect(String(decoding: output, as: UTF8.self) == "one\ntwo\n")
                #expect(ends == 2, "end of stream, and again on the next read")
            }
            var info = siginfo_t()
            #expect(waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG) == -1 && errno == ECHILD, "not reaped")
        }

        /// More than the terminal buffers: the program blocks until the reader catches up, and
        /// nothing is lost at the end.
        @Test func largeOutputArrivesWhole() throws {
            let process = try self.spawnOnTerminal("seq 1 20000")
            let expected = (1...20000).map { "\($0)\n" }.joined()
            #expect(try readToEnd(try #require(process.terminal)) == expected)
            #expect(try exitStatus(of: process) == .exited(0))
        }

        @Test func closingTheMasterHangsUpAProgramReadingStdin() throws {
            try expectNoDescriptorLeak {
                let process = try self.spawnOnTerminal("read x; echo \"not reached $x\"")
                let terminal = try #require(process.terminal)
                #expect(try process.tryWait() == nil)
                terminal.close()
                #expect(try exitStatus(of: process) == .signaled(SIGHUP))
            }
        }

        @Test func terminalForOnlySomeStreamsIsRefused() {
            let refused: [(ChildProcess.StandardIO, ChildProcess.StandardIO, ChildProcess.StandardIO)] = [
                (.terminal, .pipe, .inherit),
                (.pipe, .terminal, .inherit),
                (.inherit, .inherit, .terminal),
                (.terminal, .terminal, .terminal),
            ]
            expectNoDescriptorLeak {
                for (input, output, error) in refused {
                    #expect(throws: SystemError(call: "spawn", errno: .invalidArgument)) {
                        _ = try ChildProcess.spawn(
                            executable: "/bin/true",
                            standardInput: input,
                            standardOutput: output,
                            standardError: error
                        )
                    }
                }
            }
        }

        @Test func failedTerminalSpawnLeavesNothingOpen() {
            expectNoDescriptorLeak {
                #expect(throws: SystemError(call: "chdir", errno: .noSuchFileOrDirectory)) {
                    _ = try ChildProcess.spawn(
                        executable: "/bin/true",
                        workingDirectory: "/nonexistent",
                        standardInput: .terminal,
                        standardOutput: .terminal
                    )
                }
            }
        }
    }
}

/// Reads `end` through a loop, handing each chunk to `body` until it returns true, the stream
/// ends, or `limit` passes. Does not close `end`.
func readUntil(_ end: Pipe.End, limit: Duration, _ body: @escaping ([UInt8]) -> Bool) throws {
    let loop = try EventLoop()
    defer { loop.close() }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let registration = try loop.register(
        end.fd,
        interest: .readable,
        handler: ClosureHandler { _ in
            switch try? buffer.withUnsafeMutableBytes({ try end.read(into: $0) }) {
            case .processed(0), nil: loop.stop()
            case .processed(let count): if body(Array(buffer[..<count])) { loop.stop() }
            case .wouldBlock: break
            }
        }
    )
    _ = try loop.run(limit: limit)
    loop.deregister(registration)
}

/// Each line read from `end` to end of stream (at most 10 s), with the read that completed it
/// and when. Closes `end`.
func lineArrivals(_ end: Pipe.End) throws -> [(text: String, chunk: Int, time: ContinuousClock.Instant)] {
    var lines: [(text: String, chunk: Int, time: ContinuousClock.Instant)] = []
    var partial: [UInt8] = []
    var chunk = 0
    try readUntil(end, limit: .seconds(10)) { bytes in
        let now = ContinuousClock.now
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append((String(decoding: partial, as: UTF8.self), chunk, now))
                partial = []
            } else {
                partial.append(byte)
            }
        }
        chunk += 1
        return false
    }
    end.close()
    return lines
}

/// This process's environment.
func currentEnvironment() -> [String: String] {
    var environment: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return environment
}

/// The fields of /proc/`pid`/stat after "pid (comm)": state, ppid, pgrp, session, tty_nr, ...
func statFields(of pid: pid_t) -> [Substring]? {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 1024)
    guard fgets(&line, CInt(line.count), file) != nil else { return nil }
    let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // comm may contain spaces and parentheses: split after the last ')'.
    guard let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(after: close)...].split(separator: " ")
}
