import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// The routes the client-tool tests talk to: echo, a broadcast room, a program that speaks first,
/// and one that fails (the session closes with 1011).
func clientToolServer() throws -> TestServer {
    try TestServer(routes: [
        Route("/echo", .echo), Route("/chat/*", .broadcast),
        programRoute("/greeter", handlerProgram("greeter")), programRoute("/fail", handlerProgram("fail")),
    ])
}

/// End to end: `wsgate client` through pipes, as a script would run it.
@Suite("wsgate client end to end")
struct ClientCommandTests {
    @Test func clientEchoesPipedLinesAndClosesNormally() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo"], input: "one\ntwo\n\nthree ✓\r\n")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "one\ntwo\n\nthree ✓\n")
        #expect(run.stderr == "closed: 1000 (OK)\n")
    }

    @Test func clientSendsLastLineWithoutNewline() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo"], input: "first\nlast")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "first\nlast\n")
    }

    @Test func clientWithEmptyInputClosesNormally() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo"], input: "")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "")
        #expect(run.stderr == "closed: 1000 (OK)\n")
    }

    @Test func clientBinaryShowsSizeAndHex() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo", "--binary"], bytes: [0x00, 0x01, 0x7F, 0xFF, 0x0A])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "[binary 5 bytes] 00 01 7f ff 0a\n")
    }

    @Test func clientBinaryLongMessageShowsFirst32Bytes() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo", "--binary"], bytes: Array(repeating: 0xAB, count: 40))
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "[binary 40 bytes] " + Array(repeating: "ab", count: 32).joined(separator: " ") + " ...\n")
    }

    @Test func clientRawWritesBinaryBytesAsTheyAre() throws {
        let server = try clientToolServer()
        let payload: [UInt8] = [0x00, 0xFF, 0x0A, 0x41, 0x0D]
        let run = try runWsgate(["client", server.url + "/echo", "--binary", "--raw"], bytes: payload)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdoutData == payload)
    }

    @Test func clientPrintsGreetingOfServerThatSpeaksFirst() throws {
        let server = try clientToolServer()
        let client = try WsgateClientProcess(["client", server.url + "/greeter"])
        #expect(try client.waitForLines(1) == ["What is your name?"])
        client.write("Ada\n")
        #expect(try client.waitForLines(2) == ["What is your name?", "Hello, Ada!"])
        client.closeInput()
        #expect(client.waitForExit() == 0, "stderr: \(client.stderr)")
    }

    @Test func clientStaysOpenUntilEndOfInput() throws {
        let server = try clientToolServer()
        let client = try WsgateClientProcess(["client", server.url + "/echo"])
        client.write("x\n")
        #expect(try client.waitForLines(1) == ["x"])
        usleep(300_000)
        #expect(client.process.isRunning, "exited before end of input; stderr: \(client.stderr)")
        client.write("y\n")
        #expect(try client.waitForLines(2) == ["x", "y"])
        client.closeInput()  // Ctrl-D
        #expect(client.waitForExit() == 0, "stderr: \(client.stderr)")
        #expect(client.stderr == "closed: 1000 (OK)\n")
    }

    @Test func clientExitsOneWhenServerClosesWithError() throws {
        let server = try clientToolServer()
        let client = try WsgateClientProcess(["client", server.url + "/fail"])
        // Input stays open: the server ends the session, not us.
        let status = client.waitForExit()
        #expect(status == 1, "stderr: \(client.stderr)")
        #expect(client.stdout == "partial output\n")
        #expect(client.stderr.hasPrefix("closed: 1011"), "stderr: \(client.stderr)")
        client.closeInput()
    }

    @Test func clientExitsZeroWhenServerGoesAway() throws {
        let server = try clientToolServer()
        let client = try WsgateClientProcess(["client", server.url + "/echo"])
        client.write("before\n")
        try client.waitForLines(1)
        #expect(server.stop())
        #expect(client.waitForExit() == 0, "stderr: \(client.stderr)")
        #expect(client.stderr.hasPrefix("closed: 1001"), "stderr: \(client.stderr)")
        client.closeInput()
    }
}

/// End to end: SIGINT (Ctrl-C) and SIGTERM end an interactive client with a closing handshake.
@Suite("wsgate client signals")
struct ClientCommandSignalTests {
    struct SignalCase: Sendable, CustomTestStringConvertible {
        let signal: Int32
        let name: String
        var testDescription: String { self.name }
    }

    @Test(arguments: [SignalCase(signal: SIGINT, name: "SIGINT"), SignalCase(signal: SIGTERM, name: "SIGTERM")])
    func clientClosesWithGoingAwayOnSignal(_ signal: SignalCase) throws {
        let server = try clientToolServer()
        let client = try WsgateClientProcess(["client", server.url + "/echo"])
        client.write("hi\n")
        #expect(try client.waitForLines(1) == ["hi"])  // connected, and the signal handlers are set
        kill(client.process.processIdentifier, signal.signal)
        #expect(client.waitForExit() == 128 + signal.signal, "stderr: \(client.stderr)")
        #expect(client.stderr == "\(signal.name): closing with 1001 (going away)\nclosed: 1001 (going away)\n")
        let deadline = Date().addingTimeInterval(10)
        var close: String?
        while close == nil && Date() < deadline {
            close = server.log.first { $0.contains("event=session.close") }
            usleep(10_000)
        }
        #expect(close?.contains(" code=1001 ") == true, "server logged \(close ?? "no close")")
        client.closeInput()
    }
}

/// End to end: `wsgate client --exec`, a local program bridged to a remote endpoint.
@Suite("wsgate client --exec end to end")
struct ClientCommandBridgeTests {
    @Test func bridgeSendsProgramLinesAndFeedsItTheReplies() throws {
        let server = try clientToolServer()
        // The program says two lines, then reads the two echoes and reports them on stderr (inherited).
        let program = "sh -c 'echo hi; echo \"there ✓\"; read a; read b; echo \"got [$a] [$b]\" >&2'"
        let run = try runWsgate(["client", server.url + "/echo", "--exec", program])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("got [hi] [there ✓]"), "stderr: \(run.stderr)")
        #expect(run.stdout == "")
    }

    @Test func bridgeExitsWithFailingProgramsStatus() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo", "--exec", "sh -c 'echo x; read a; exit 3'"])
        #expect(run.status == 3, "stderr: \(run.stderr)")
        #expect(run.stderr.hasSuffix("wsgate client: the program exited with status 3\n"), "stderr: \(run.stderr)")
    }

    @Test func bridgeExitsWith128PlusSignalOfKilledProgram() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/echo", "--exec", "sh -c 'echo x; read a; kill -TERM $$'"])
        #expect(run.status == 128 + SIGTERM, "stderr: \(run.stderr)")
        #expect(run.stderr.hasSuffix("wsgate client: the program was killed by SIGTERM\n"), "stderr: \(run.stderr)")
    }

    @Test func bridgeGivesProgramEndOfInputWhenServerCloses() throws {
        let server = try clientToolServer()
        let scripts = try ScratchScripts()
        let record = scripts.file("seen")
        // cat copies what the server sends into a file; it ends only when its stdin closes.
        let program = try scripts.script("record", "cat > '\(record)'")
        let bridge = try WsgateClientProcess(["client", server.url + "/fail", "--exec", program])
        let status = bridge.waitForExit()
        #expect(status == 1, "stderr: \(bridge.stderr)")  // the program succeeded; the close was 1011
        #expect(bridge.stderr.contains("1011"), "stderr: \(bridge.stderr)")
        #expect((try? String(contentsOfFile: record, encoding: .utf8)) == "partial output\n")
    }

    @Test func bridgeRelaysBroadcastPartnerThroughCat() throws {
        let server = try clientToolServer()
        let bridge = try WsgateClientProcess(["client", server.url + "/chat/room", "--exec", "cat"])
        // Readiness: the server has opened the bridge's session.
        let deadline = Date().addingTimeInterval(10)
        while !server.log.contains(where: { $0.contains("session.open") }) && Date() < deadline { usleep(5_000) }
        let partner = try server.connect("/chat/room")
        for index in 0..<20 {
            try partner.send(text: "message \(index)")
        }
        for index in 0..<20 {
            #expect(try partner.receiveMessage() == .text("message \(index)"))
        }
        #expect(server.stop())
        #expect(bridge.waitForExit() == 0, "stderr: \(bridge.stderr)")
        #expect(bridge.stderr.contains("1001"), "stderr: \(bridge.stderr)")
        bridge.closeInput()
    }
}

/// End to end: `wsgate send`, one connection, its replies on stdout.
@Suite("wsgate send end to end")
struct ClientCommandSendTests {
    @Test func sendPrintsRepliesAndSucceedsWhenAllArrived() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["send", server.url + "/echo", "hello", "wörld", "", "-n", "3"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "hello\nwörld\n\n")
    }

    @Test func sendWithoutCountPrintsEveryReplyWithinWait() throws {
        let server = try clientToolServer()
        let started = Date()
        let run = try runWsgate(["send", server.url + "/echo", "a", "b", "--wait", "300ms"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "a\nb\n")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func sendFailsWhenFewerRepliesArriveWithinWait() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["send", server.url + "/echo", "only", "-n", "2", "--wait", "300ms"])
        #expect(run.status == 1)
        #expect(run.stdout == "only\n")
        #expect(run.stderr.contains("1 of 2 replies"), "stderr: \(run.stderr)")
    }

    @Test func sendBinaryPrintsHex() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["send", server.url + "/echo", "--binary", "AB", "-n", "1"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "[binary 2 bytes] 41 42\n")
    }

    @Test func sendReadsGreetingOfServerThatSpeaksFirst() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["send", server.url + "/greeter", "Ada", "-n", "2"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "What is your name?\nHello, Ada!\n")
    }

    @Test func sendFailsWhenServerClosesNormallyBeforeCount() throws {
        let server = try TestServer(routes: [programRoute("/one", handlerProgram("count", "--to", "1"))])
        let run = try runWsgate(["send", server.url + "/one", "-n", "3", "--wait", "10s"])
        #expect(run.status == 1)
        #expect(run.stdout == "1\n")
        #expect(run.stderr.contains("1 of 3 replies before the server closed"), "stderr: \(run.stderr)")
    }

    @Test func sendExitsOneWhenServerClosesWithError() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["send", server.url + "/fail", "--wait", "3s"])
        #expect(run.status == 1, "stderr: \(run.stderr)")
        #expect(run.stdout == "partial output\n")
        #expect(run.stderr.contains("1011"), "stderr: \(run.stderr)")
    }
}
