import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// Programs that cannot or may not start, and the bounds: --maxforks, memory under a fast program
/// and a slow client, and no zombies or descriptors left after many sessions.
@Suite("Program handlers: limits and failures")
struct ProgramLimitsTests {
    @Test func serverRefusesUpgradeBeyondMaxProgramsWith503() throws {
        let server = try TestServer(routes: [programRoute("/greeter", handlerProgram("greeter"))]) {
            $0.maxPrograms = 2
        }
        let first = try server.connect("/greeter")
        let second = try server.connect("/greeter")
        for client in [first, second] { #expect(try client.receiveMessage() == .text("What is your name?")) }

        let refused = try rawHTTP(port: server.port, upgradeRequest("/greeter"))
        #expect(statusCode(refused) == 503)
        #expect(refused.hasSuffix("\r\n\r\ntoo many programs running (limit 2)\n"), "\(refused)")
        #expect(waitForLogLine(server, event: "handshake.handler_failed", containing: "status=503") != nil)

        // The close reply waits for the program's exit, so its slot is free once the close is back.
        try first.close()
        #expect(try first.waitForClose()?.code == .normalClosure)
        let third = try server.connect("/greeter")
        #expect(try third.receiveMessage() == .text("What is your name?"))
        #expect(statusCode(try rawHTTP(port: server.port, upgradeRequest("/greeter"))) == 503)
    }

    struct MissingCase: Sendable, CustomTestStringConvertible {
        let name: String
        /// What to do to the program after the server has started.
        let spoil: @Sendable (String) throws -> Void
        var testDescription: String { self.name }
    }

    /// A program that was there at start-up but cannot run now: 502 with a body and a log line,
    /// and the server goes on serving.
    @Test(arguments: [
        MissingCase(name: "deleted") { try FileManager.default.removeItem(atPath: $0) },
        MissingCase(name: "no longer executable") {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: $0)
        },
    ])
    func serverAnswers502WhenProgramCannotStart(_ missing: MissingCase) throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("vanishing", "echo hi")
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program)),
                                             programRoute("/echo", handlerProgram("echo"))])
        try missing.spoil(program)
        let response = try rawHTTP(port: server.port, upgradeRequest("/p"))
        #expect(statusCode(response) == 502)
        #expect(response.contains("\r\n\r\ncannot start program \(program): "), "\(response)")
        let line = try #require(waitForLogLine(server, event: "process.spawn_failed"))
        #expect(line.contains(program))
        #expect(waitForLogLine(server, event: "handshake.handler_failed", containing: "status=502") != nil)
        let client = try server.connect("/echo")
        try client.send(text: "still here")
        #expect(try client.receiveMessage() == .text("still here"))
    }

    /// A program writing 10 MB as fast as it can to a client that reads slowly: wsgate's memory stays
    /// bounded because it stops reading stdout while the client's queue is full, so the program
    /// blocks instead.
    ///
    /// The bound, 8 MiB over the idle baseline, is what one session may hold by design (a 1 MiB
    /// queue, the 64 KiB read buffer, a few reads in flight) with a debug build's allocator slack,
    /// and it is below the 10 MB the stream would cost if wsgate buffered it: a generous bound such
    /// as 64 MiB could not tell the two apart. The program must also still be running while the
    /// client has read under 2 MB: TCP buffers (≤ 4 MB send buffer), the queue and the pipe cannot
    /// hold the other 8 MB.
    @Test(.timeLimit(.minutes(1)))
    func serverMemoryStaysBoundedWithFastProgramAndSlowClient() throws {
        let scripts = try ScratchScripts()
        let word = String(repeating: "y", count: 64)
        let program = try scripts.script("yes", "yes \(word) | head -c 10000000")
        // trace: per-session program exits are logged, which the check of an early exit reads.
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "0", "--loglevel", "trace",
                                        "--route", "/yes=\(program)", "--route", "/echo=echo"])
        let port = try wsgate.listeningPort()
        let pid = wsgate.process.processIdentifier
        // Warm up the paths a session takes, so the baseline includes what they allocate once.
        let warm = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        try warm.send(text: "warm")
        _ = try warm.receiveMessage()
        try warm.close()
        _ = try warm.waitForClose()
        let baseline = try #require(residentBytes(of: pid))

        let raw = try RawClient(port: port, receiveBuffer: 64 * 1024)
        let connection = Connection(side: .client, configuration: .init(maxMessageSize: 1 << 20, autoPong: false))
        connection.receive(try raw.upgrade("/yes"))
        var payload = 0
        var messages = 0
        var received = 0
        var peak = baseline
        var exitedEarly = false
        var close: Connection.Event?
        let started = Date()
        while close == nil {
            let bytes = try Self.receive(upTo: 16 * 1024, from: raw)
            if bytes.isEmpty { break }
            received += bytes.count
            connection.receive(bytes)
            for event in connection.takeEvents() {
                switch event {
                case .text(let text):
                    payload += text.utf8.count
                    messages += 1
                case .close: close = event
                default: break
                }
            }
            if let rss = residentBytes(of: pid) { peak = max(peak, rss) }
            if received < 2_000_000 && wsgate.stderr.contains("event=process.exit") { exitedEarly = true }
            usleep(4_000)  // a slow client: at most 16 KiB per 4 ms, 4 MB/s
        }
        let elapsed = Date().timeIntervalSince(started)
        let growth = peak - baseline
        print("yes → slow client: \(received) bytes in \(elapsed) s; wsgate VmRSS baseline \(baseline / 1024) KiB, "
            + "peak \(peak / 1024) KiB, growth \(growth / 1024) KiB")
        #expect(close == .close(.normalClosure, ""))
        #expect(payload == 153_846 * 64 + 10)
        #expect(messages == 153_847)
        #expect(!exitedEarly, "the program finished while the client had read under 2 MB: nothing pushed back")
        #expect(growth < 8 << 20, "wsgate grew by \(growth / 1024) KiB")
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// 1,000 short sessions against the built binary, four at a time: afterwards wsgate has no child
    /// left (zombie or alive) and no more open descriptors than before.
    @Test(.timeLimit(.minutes(1)))
    func serverLeavesNoZombiesOrDescriptorsAfterThousandSessions() throws {
        // trace: per-session program exits are logged, and counted below.
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "0", "--loglevel", "trace",
                                        "--route", "/echo=\(repositoryRoot)/handlers/echo"])
        let port = try wsgate.listeningPort()
        let pid = wsgate.process.processIdentifier
        let url = "ws://127.0.0.1:\(port)/echo"

        @Sendable func session(_ index: Int) throws {
            let client = try BlockingClient(url: url)
            try client.send(text: "ping \(index)")
            guard try client.receiveMessage() == .text("ping \(index)") else { throw TestFailure("wrong echo") }
            try client.close()
            guard try client.waitForClose()?.code == .normalClosure else { throw TestFailure("no normal close") }
            try client.waitForEOF()
        }
        func noChildren() -> Bool { childProcesses(of: pid).isEmpty }

        for index in 0..<10 { try session(index) }
        #expect(eventually(timeout: 5, noChildren))
        let descriptorsBefore = openDescriptorCount(of: pid)

        let started = Date()
        let failures = LogLines()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for index in stride(from: worker, to: 1000, by: 4) {
                do {
                    try session(index)
                } catch {
                    failures.append("session \(index): \(error)")
                }
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")

        #expect(eventually(timeout: 5, noChildren), "children left: \(childProcesses(of: pid))")
        let zombies = childProcesses(of: pid).filter { $0.state == "Z" }
        #expect(zombies.isEmpty, "zombies: \(zombies)")
        let descriptorsAfter = openDescriptorCount(of: pid)
        print("1000 sessions in \(elapsed) s; wsgate descriptors \(descriptorsBefore) → \(descriptorsAfter)")
        #expect(descriptorsAfter <= descriptorsBefore + 2, "descriptors \(descriptorsBefore) → \(descriptorsAfter)")
        // The log is written by a thread of its own, in batches: wait for the last lines.
        func exits() -> Int { wsgate.stderr.components(separatedBy: "event=process.exit").count - 1 }
        #expect(eventually(timeout: 10) { exits() == 1010 }, "process.exit lines: \(exits())")
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// At most `limit` bytes from the socket, waiting up to 10 s; empty at EOF.
    static func receive(upTo limit: Int, from raw: RawClient) throws -> [UInt8] {
        var entry = pollfd(fd: raw.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 10_000) > 0 else { throw TestFailure("receive timed out") }
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = buffer.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw TestFailure("recv failed: errno \(errno)") }
        return Array(buffer[0..<count])
    }
}
