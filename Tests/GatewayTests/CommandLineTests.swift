import Client
import Foundation
import Testing
import WebSocket

/// End to end: the built `wsgate` binary, run as a process, spoken to over loopback.
@Suite("wsgate binary end to end")
struct CommandLineTests {
    static let serve = ["--address", "127.0.0.1", "--port", "0", "--loglevel", "info"]

    @Test func binaryServesEchoAndBroadcastAndStopsOnSIGTERM() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/echo=echo", "--route", "/chat/*=broadcast",
                                                     "--shutdown-timeout", "3s"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        try client.send(text: "hello ✓")
        #expect(try client.receiveMessage() == .text("hello ✓"))
        try client.send(binary: [0, 255])
        #expect(try client.receiveMessage() == .binary([0, 255]))

        let one = try BlockingClient(url: "ws://127.0.0.1:\(port)/chat/x")
        let two = try BlockingClient(url: "ws://127.0.0.1:\(port)/chat/x")
        try one.send(text: "to two")
        #expect(try two.receiveMessage() == .text("to two"))

        let started = Date()
        wsgate.signal(SIGTERM)
        for peer in [client, one, two] {
            #expect(try peer.waitForClose()?.code == .goingAway)
            try peer.waitForEOF()
        }
        let status = wsgate.waitForExit(timeout: 5)
        #expect(status == 0, "stderr: \(wsgate.stderr)")
        #expect(wsgate.process.terminationReason == .exit)
        #expect(Date().timeIntervalSince(started) < 3, "shutdown waited for its timeout")
        #expect(wsgate.stderr.contains("event=server.shutdown"))
        #expect(wsgate.stderr.contains("signal=SIGTERM"))
    }

    /// A client that ignores the close keeps the process only until --shutdown-timeout.
    @Test func binaryExitsAfterShutdownTimeoutWithUnresponsivePeer() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/echo=echo", "--shutdown-timeout", "300ms"])
        let port = try wsgate.listeningPort()
        let raw = try RawClient(port: port)
        let early = try raw.upgrade("/echo")
        let started = Date()
        wsgate.signal(SIGINT)
        #expect(wsgate.waitForExit(timeout: 5) == 0, "stderr: \(wsgate.stderr)")
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.25 && elapsed < 3, "exit took \(elapsed) s")
        #expect(serverEvents(early + (try raw.receiveUntilEOF(timeout: 2))) == [.close(.goingAway, "going away")])
    }

    @Test func binaryEnforcesMaxMessageSizeFlag() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/echo=echo", "--max-message-size", "1KiB"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        try client.send(text: String(repeating: "a", count: 1024))
        #expect(try client.receiveMessage() == .text(String(repeating: "a", count: 1024)))
        try client.send(text: String(repeating: "a", count: 1025))
        #expect(try client.waitForClose()?.code == .messageTooBig)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryAnswersPlainHTTPWithStatus() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/echo=echo", "--max-connections", "1"])
        let port = try wsgate.listeningPort()
        #expect(statusCode(try rawHTTP(port: port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")) == 426)
        #expect(statusCode(try rawHTTP(port: port, upgradeRequest("/other"))) == 404)
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        #expect(statusCode(try rawHTTP(port: port, upgradeRequest("/echo"))) == 503)
        _ = client
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryNegotiatesSubprotocolFlag() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/echo=echo", "--subprotocol", "b",
                                                     "--subprotocol=a"])
        let port = try wsgate.listeningPort()
        var options = BlockingClient.Options()
        options.subprotocols = ["a", "b"]
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo", options: options)
        #expect(client.subprotocol == "b")
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func helpPrintsUsageAndExitsZero() throws {
        let wsgate = try WsgateProcess(["--help"])
        #expect(wsgate.waitForExit() == 0)
        #expect(wsgate.stdout.contains("usage: wsgate"))
        #expect(wsgate.stdout.contains("--route PATH=HANDLER"))
    }

    @Test func versionPrintsAndExitsZero() throws {
        let wsgate = try WsgateProcess(["--version"])
        #expect(wsgate.waitForExit() == 0)
        #expect(wsgate.stdout.hasPrefix("wsgate "))
    }

    @Test(arguments: [
        (["--bogus", "x", "--route", "/echo=echo"], "unknown flag --bogus"),
        (["--route", "/echo"], "--route: '/echo' is not PATH=HANDLER"),
        (["--route", "echo=echo"], "--route: 'echo=echo' is not PATH=HANDLER"),
        (["--route", "/echo="], "/echo"),
        (["--route", "/a*b=echo"], "* is only allowed as a final /*"),
        (["--port", "8080"], "--route PATH=HANDLER"),
        ([], "--route PATH=HANDLER"),
        (["--route", "/echo=echo", "--port", "70000"], "--port: '70000' is not a number in 0...65535"),
        (["--route", "/echo=echo", "--port", "http"], "--port: 'http'"),
        (["--route", "/echo=echo", "--ping-interval", "soon"], "--ping-interval: 'soon' is not a duration"),
        (["--route", "/echo=echo", "--handshake-timeout", "-1s"], "--handshake-timeout: '-1s' is not a duration"),
        (["--route", "/echo=echo", "--max-message-size", "big"], "--max-message-size: 'big' is not a size"),
        (["--route", "/echo=echo", "--max-connections", "0"], "--max-connections: '0'"),
        (["--route", "/echo=echo", "--loglevel", "loud"], "--loglevel: 'loud'"),
        (["--route", "/echo=echo", "--port"], "--port needs a value"),
        (["--help=yes"], "--help takes no value"),
        (["serve"], "'serve'"),
        (["-bogus", "1", "--route", "/echo=echo"], "unknown flag -bogus"),
        (["--route", "/echo=echo", "-port"], "-port needs a value"),
        (["--route", "/e=echo", "--route", "/e=broadcast"], "path /e is routed twice: --route /e=echo and --route /e=broadcast"),
        (["--route", "/e=echo", "--binary-route", "/e=cat"], "path /e is routed twice: --route /e=echo and --binary-route /e=cat"),
        (["--route", "/*=echo", "cat"], "path /* is routed twice: --route /*=echo and the COMMAND cat (every path)"),
        (["--dir", "/tmp", "cat"], "path /* is routed twice: --dir /tmp (every path) and the COMMAND cat (every path)"),
        (["--route", "/e=echo extra"],
         "--route /e: 'echo extra': echo is the built-in handler, which takes no arguments; "
            + "for the program echo, write ./echo or its path"),
        (["--route", "/b=broadcast --loud"], "broadcast is the built-in handler, which takes no arguments"),
        (["--binary-route", "/e=echo"], "echo is the built-in handler, which is not a program; for the program echo, write ./echo"),
        (["--redirport", "80", "--route", "/e=echo"], "--redirport: redirecting HTTP to HTTPS is not supported yet"),
        (["--reverselookup", "--route", "/e=echo"], "--reverselookup: reverse DNS lookups are not supported"),
        (["--ssl", "--route", "/e=echo"], "--ssl needs --sslcert FILE and --sslkey FILE (--sslcert is missing)"),
        (["--ssl", "--sslcert", "c.pem", "--route", "/e=echo"],
         "--ssl needs --sslcert FILE and --sslkey FILE (--sslkey is missing)"),
        (["--sslcert", "c.pem", "--route", "/e=echo"], "--sslcert is for TLS: add --ssl"),
        (["--route", "/e=echo", "--metrics-path", "/m"], "--metrics-path needs --metrics"),
        (["--metrics", "--metrics-path", "m", "--route", "/e=echo"], "--metrics-path: 'm' is not a path"),
        (["--staticdir", "/nonexistent-dir", "--route", "/e=echo"], "--staticdir: '/nonexistent-dir' is not a directory"),
        (["--cgidir", "/etc/hostname"], "--cgidir: '/etc/hostname' is not a directory"),
        (["--staticdir", "/tmp", "--cgi-timeout", "0s"], "--cgi-timeout: must be more than 0"),
        (["--staticdir", "/tmp", "--http-idle-timeout", "soon"], "--http-idle-timeout: 'soon' is not a duration"),
        (["--staticdir", "/tmp", "--max-request-body", "0"], "--max-request-body: '0' is not a size"),
        (["--route", "/e=echo", "--log-stderr=maybe"], "--log-stderr takes no value (or =true, =false)"),
    ])
    func badCommandLineExitsTwoWithMessage(arguments: [String], message: String) throws {
        let wsgate = try WsgateProcess(arguments)
        let status = wsgate.waitForExit(timeout: 5)
        #expect(status == 2, "stderr: \(wsgate.stderr)")
        #expect(wsgate.stderr.hasPrefix("wsgate: "), "stderr: \(wsgate.stderr)")
        #expect(wsgate.stderr.contains(message), "stderr: \(wsgate.stderr)")
        #expect(wsgate.stderr.split(separator: "\n").count == 1, "one clear line: \(wsgate.stderr)")
    }

    @Test func portInUseExitsTwoNamingTheAddress() throws {
        let first = try WsgateProcess(Self.serve + ["--route", "/echo=echo"])
        let port = try first.listeningPort()
        let second = try WsgateProcess(["--address", "127.0.0.1", "--port", "\(port)", "--route", "/echo=echo"])
        #expect(second.waitForExit(timeout: 5) == 2)
        #expect(second.stderr.hasPrefix("wsgate: cannot listen on 127.0.0.1:\(port): bind: EADDRINUSE"), "stderr: \(second.stderr)")
        #expect(second.stderr.split(separator: "\n").count == 1, "one clear line: \(second.stderr)")
        first.signal(SIGTERM)
        #expect(first.waitForExit() == 0)
    }
}
