import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// The stdio contract's lifecycle: exit status → close code, output flushed before the close, and a
/// program (with everything it started) stopped and reaped when its client goes away.
@Suite("Program handlers: exit, close and termination")
struct ProgramLifecycleTests {
    struct ExitCase: Sendable, CustomTestStringConvertible {
        let status: String
        let code: CloseCode
        let reason: String
        var testDescription: String { "exit \(self.status) → \(self.code.rawValue)" }
    }

    @Test(arguments: [
        ExitCase(status: "0", code: .normalClosure, reason: ""),
        ExitCase(status: "3", code: .internalError, reason: "program exited with status 3"),
        ExitCase(status: "255", code: .internalError, reason: "program exited with status 255"),
    ])
    func serverClosesWithCodeForExitStatusAfterRemainingOutput(_ exit: ExitCase) throws {
        let server = try TestServer(routes: [programRoute("/fail", handlerProgram("fail", exit.status))])
        let transcript = try readUntilClose(try server.connect("/fail"))
        #expect(transcript.messages == ["partial output"])
        #expect(transcript.close?.code == exit.code)
        #expect(transcript.close?.reason == exit.reason)
    }

    @Test func serverClosesWith1011NamingSignalThatKilledProgram() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("suicide", "echo before; kill -TERM $$; echo after")
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
        let transcript = try readUntilClose(try server.connect("/p"))
        #expect(transcript.messages == ["before"])
        #expect(transcript.close?.code == .internalError)
        #expect(transcript.close?.reason == "program killed by SIGTERM")
    }

    @Test func serverClosesNormallyAfterCountFinishes() throws {
        let server = try TestServer(routes: [programRoute("/count", handlerProgram("count", "--to", "3", "--pause", "0"))])
        let transcript = try readUntilClose(try server.connect("/count"))
        #expect(transcript.messages == ["1", "2", "3"])
        #expect(transcript.close?.code == .normalClosure)
    }

    /// Much more output than one pipe read, then a failing exit: every line precedes the close.
    @Test func serverFlushesAllOutputOfExitingProgramBeforeClose() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("lots", "seq 1 20000; exit 4")
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
        let transcript = try readUntilClose(try server.connect("/p"))
        #expect(transcript.messages.count == 20000)
        #expect(transcript.messages.first == "1")
        #expect(transcript.messages.last == "20000")
        #expect(transcript.close?.code == .internalError)
        #expect(transcript.close?.reason == "program exited with status 4")
    }

    /// A client that reads slowly keeps stdout paused for long stretches (the queue must drain to half
    /// of `maxQueuedBytes` first); the program's exit in such a stretch must not cut its output: the
    /// 100 ms wait after an exit is for background processes holding stdout, not for backpressure.
    @Test func serverFlushesOutputStillInPipeWhileClientIsSlow() throws {
        let scripts = try ScratchScripts()
        // 4 MB in 400,000 lines: more than the 1 MiB queue, the socket buffers and the pipe together.
        let program = try scripts.script("burst", "yes 123456789 | head -n 400000")
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
        let raw = try RawClient(port: server.port, receiveBuffer: 16 * 1024)
        let connection = Connection(side: .client, configuration: .init(maxMessageSize: 1 << 20, autoPong: false))
        connection.receive(try raw.upgrade("/p"))
        var lines = 0
        var close: Connection.Event?
        while close == nil {
            // About 2 MB/s: draining half the queue takes ~250 ms, longer than the 100 ms wait.
            let bytes = try ProgramLimitsTests.receive(upTo: 16 * 1024, from: raw)
            if bytes.isEmpty { break }
            connection.receive(bytes)
            for event in connection.takeEvents() {
                switch event {
                case .text(let text):
                    if text != "123456789" { Issue.record("unexpected line '\(text)'") }
                    lines += 1
                case .close: close = event
                default: break
                }
            }
            usleep(8_000)
        }
        #expect(lines == 400_000)
        #expect(close == .close(.normalClosure, ""))
    }

    /// The client's socket drops without a close: the program (which ignores end of input) gets
    /// SIGINT and is reaped.
    @Test func serverSignalsAndReapsProgramWhenClientVanishes() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("forever", "echo $$; while :; do sleep 1; done")
        let (server, client, pid) = try startProgramReportingPid(program)
        #expect(processIsAlive(pid))
        client.disconnect()
        #expect(eventually(timeout: 2) { processIsReaped(pid) }, "program \(pid) not reaped 2 s after the client vanished")
        let signal = try #require(waitForLogLine(server, event: "process.signal", containing: "pid=\(pid) "))
        #expect(logField("signal", in: signal) == "SIGINT")
        let exit = try #require(waitForLogLine(server, event: "process.exit", containing: "pid=\(pid) "))
        #expect(logField("status", in: exit) == "killed by SIGINT")
    }

    /// The client vanishes while wsgate is not reading it, because its program does not read stdin:
    /// the hang-up is noticed at once, not at the next keepalive (never, here), so the session ends
    /// and the program is stopped and reaped. A FIN as well as a reset.
    @Test(arguments: [false, true])
    func serverNoticesClientVanishingWhileNotReadingIt(reset: Bool) throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("deaf", "echo $$; exec sleep 1000")
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))]) {
            $0.maxQueuedBytes = 16 * 1024
            $0.pingInterval = nil
        }
        let raw = try RawClient(port: server.port)
        var bytes = try raw.upgrade("/p")
        #expect(eventually {
            bytes += (try? raw.receive(timeout: 0.05)) ?? []
            return !serverEvents(bytes).isEmpty
        })
        guard case .text(let text) = serverEvents(bytes).first, let pid = Int32(text) else {
            throw TestFailure("no pid from the program")
        }
        // The 64 KiB pipe fills, then more than 16 KiB wait for it: wsgate stops reading the client.
        let message = clientFrame(0x81, [UInt8](repeating: 0x61, count: 4096))
        for _ in 0..<28 { try raw.send(message) }
        #expect(waitForLogLine(server, event: "session.read_paused", containing: "cause=handler") != nil)
        raw.close(reset: reset)
        #expect(eventually(timeout: 5) { processIsReaped(pid) }, "program \(pid) still there 5 s after the client left")
        #expect(waitForLogLine(server, event: "session.close", containing: "code=1006") != nil)
    }

    /// Closing stdin is the first step: a program that ends on end of input never sees a signal.
    @Test func serverStopsProgramThatEndsOnEndOfInputWithoutSignal() throws {
        let server = try TestServer(routes: [programRoute("/echo", handlerProgram("echo"))])
        let client = try server.connect("/echo")
        try client.send(text: "hi")
        #expect(try client.receiveMessage() == .text("hi"))
        let start = try #require(waitForLogLine(server, event: "process.start"))
        let pid = try #require(logField("pid", in: start).flatMap { Int32($0) })
        client.disconnect()
        #expect(eventually(timeout: 2) { processIsReaped(pid) })
        let exit = try #require(waitForLogLine(server, event: "process.exit", containing: "pid=\(pid) "))
        #expect(logField("status", in: exit) == "exited with status 0")
        #expect(logLines(server, event: "process.signal").isEmpty)
    }

    /// The client closes normally while the program runs on: the close reply comes once the program
    /// is stopped, and the program is reaped.
    @Test func serverAnswersCloseAfterStoppingRunningProgram() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("forever", "echo $$; while :; do sleep 1; done")
        let (server, client, pid) = try startProgramReportingPid(program)
        let started = Date()
        try client.close()
        #expect(try client.waitForClose(timeout: .seconds(10))?.code == .normalClosure)
        #expect(Date().timeIntervalSince(started) < 4)  // the signal steps (~1 s), not the 5 s close timeout
        #expect(eventually(timeout: 5) { processIsReaped(pid) })
        withExtendedLifetime(server) {}  // the gateway serves until the end of the test
    }

    struct BackgroundCase: Sendable, CustomTestStringConvertible {
        let name: String
        let script: String
        /// Whether the client closes (the script runs on), or waits for the script's own exit.
        let clientCloses: Bool
        var testDescription: String { self.name }
    }

    /// A script's background job is in the program's process group, so it is stopped with it. In a
    /// non-interactive shell a background job ignores SIGINT, so this needs the SIGTERM step.
    @Test(arguments: [
        BackgroundCase(name: "exits, job holds stdout", script: "sleep 1000 & echo $!; exit 0", clientCloses: false),
        BackgroundCase(name: "exits, job detached from stdout",
                       script: "sleep 1000 >/dev/null 2>&1 & echo $!; exit 0", clientCloses: false),
        BackgroundCase(name: "runs on until the client closes",
                       script: "sleep 1000 & echo $!; while :; do sleep 1; done", clientCloses: true),
    ])
    func serverStopsBackgroundJobOfProgramWithSession(_ background: BackgroundCase) throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("background", background.script)
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
        let client = try server.connect("/p")
        guard case .text(let text) = try client.receiveMessage(), let job = Int32(text) else {
            Issue.record("no pid from the program")
            return
        }
        #expect(processIsAlive(job))
        if background.clientCloses { try client.close() }
        #expect(try client.waitForClose(timeout: .seconds(3))?.code == .normalClosure)
        // The server shuts down its side; the client then closes, as a browser does, and the session is over.
        try client.waitForEOF(timeout: .seconds(3))
        client.disconnect()
        #expect(eventually(timeout: 2) { !processIsAlive(job) }, "background job \(job) survived its session")
        let start = try #require(waitForLogLine(server, event: "process.start"))
        let pid = try #require(logField("pid", in: start).flatMap { Int32($0) })
        #expect(eventually(timeout: 2) { processIsReaped(pid) })
    }

    /// --closems: each signal step waits that much longer. The program traps SIGINT and writes the time.
    @Test(arguments: [0, 700])
    func serverDelaysInterruptByCloseGrace(milliseconds: Int) throws {
        let scripts = try ScratchScripts()
        let stamp = scripts.file("interrupted-at")
        let program = try scripts.script(
            "trap-int", "trap 'date +%s%N > \"\(stamp)\"; exit 0' INT; echo ready; while :; do sleep 1; done")
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))]) {
            $0.closeGrace = .milliseconds(milliseconds)
        }
        let client = try server.connect("/p")
        #expect(try client.receiveMessage() == .text("ready"))
        let vanished = Date().timeIntervalSince1970
        client.disconnect()
        #expect(eventually(timeout: 5) { FileManager.default.fileExists(atPath: stamp) }, "no SIGINT within 5 s")
        var nanoseconds: Double?
        _ = eventually(timeout: 2) {
            nanoseconds = (try? String(contentsOfFile: stamp, encoding: .utf8))
                .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return nanoseconds != nil
        }
        let delay = try #require(nanoseconds) / 1e9 - vanished
        let expected = 0.1 + Double(milliseconds) / 1000
        // Never early; late by at most a loaded machine's scheduling (a shell has to fork `date`).
        #expect(delay >= expected - 0.02, "SIGINT \(delay) s after the disconnect, expected \(expected) s")
        #expect(delay < expected + 1.0, "SIGINT \(delay) s after the disconnect, expected \(expected) s")
        #expect(logLines(server, event: "process.signal").map { logField("signal", in: $0) } == ["SIGINT"])
    }

    /// A program that ignores SIGINT and SIGTERM still goes: SIGKILL after 100 + 250 + 500 ms.
    @Test func serverKillsProgramIgnoringInterruptAndTerminate() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("stubborn", "trap '' INT TERM; echo $$; while :; do sleep 1; done")
        let (server, client, pid) = try startProgramReportingPid(program)
        let vanished = Date()
        client.disconnect()
        #expect(eventually(timeout: 4) { processIsReaped(pid) })
        let elapsed = Date().timeIntervalSince(vanished)
        #expect(elapsed >= 0.8, "reaped after \(elapsed) s, before the SIGKILL step")
        #expect(logLines(server, event: "process.signal").map { logField("signal", in: $0) } == ["SIGINT", "SIGTERM", "SIGKILL"])
        let exit = try #require(waitForLogLine(server, event: "process.exit", containing: "pid=\(pid) "))
        #expect(logField("status", in: exit) == "killed by SIGKILL")
    }
}
