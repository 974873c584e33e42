import Client
import Foundation
import Reactor
import Testing
import WebSocket

/// The built binary, given command lines as websocketd's users type them (Go's flag package:
/// `-flag value`, `-flag=value`; `--address` with a bracketed IPv6 address or a host name), and
/// route mistakes that must not pass silently.
@Suite("wsgate binary: websocketd's command lines")
struct WebsocketdCommandLineTests {
    /// `wsgate -port 9410 cat`, the way websocketd is started, on a free port.
    @Test func binaryTakesSingleDashFlagsAsWebsocketdDoes() throws {
        let wsgate = try WsgateProcess(["-address", "127.0.0.1", "-port", "0", "-loglevel=info", "-binary=false",
                                        "-maxforks", "4", "cat"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/any/path")
        try client.send(text: "hello")
        #expect(try client.receiveMessage() == .text("hello"))
        try client.close()
        _ = try client.waitForClose()
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0, "stderr: \(wsgate.stderr)")
    }

    /// `--` ends the flags: what follows is the command even if it starts with a dash.
    @Test func binaryTakesEverythingAfterDoubleDashAsTheCommand() throws {
        let echo = try #require(ChildProcess.findExecutable("echo"))
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "0", "--loglevel", "info", "--",
                                        echo, "-n", "--port"])
        let port = try wsgate.listeningPort()
        let transcript = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/"))
        #expect(transcript.messages == ["--port"])
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// websocketd's documented IPv6 form, `--address [::1]`.
    @Test func binaryListensOnBracketedIPv6Address() throws {
        let wsgate = try WsgateProcess(["--address", "[::1]", "--port", "0", "--loglevel", "info", "--route", "/echo=echo"])
        let line = try wsgate.waitForLine(containing: "event=server.listen")
        #expect(line.contains("address=[::1]:"), "\(line)")
        let port = try wsgate.listeningPort()
        #expect(line.contains("url=ws://[::1]:\(port)/"), "\(line)")
        let client = try BlockingClient(url: "ws://[::1]:\(port)/echo")
        try client.send(text: "over IPv6")
        #expect(try client.receiveMessage() == .text("over IPv6"))
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// A name is resolved at start and every address it has is listened on, once: `localhost`
    /// with `127.0.0.1` as well does not bind 127.0.0.1 twice (which would fail with EADDRINUSE).
    @Test func binaryListensOnEveryAddressOfANameOnce() throws {
        let expected = Set(try SocketAddress.resolve(host: "localhost", port: 0).map(\.host) + ["127.0.0.1"])
        let wsgate = try WsgateProcess(["--address", "localhost", "--address", "127.0.0.1", "--port", "0",
                                        "--loglevel", "info", "--route", "/echo=echo"])
        let firstLine = try wsgate.waitForLine(containing: "event=server.listen")
        // The listen lines are written together before the loop serves: once a client is served,
        // every one of them is there.
        let first = try BlockingClient(url: try Self.url(in: firstLine) + "echo")
        try first.send(text: "served")
        #expect(try first.receiveMessage() == .text("served"))
        let listens = wsgate.stderr.split(separator: "\n").filter { $0.contains("event=server.listen") }
        let hosts = listens.compactMap { line -> String? in
            guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("address=") }),
                let colon = field.lastIndex(of: ":") else { return nil }
            return String(field.dropFirst("address=".count)[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        }
        #expect(hosts.count == expected.count, "\(listens)")
        #expect(Set(hosts) == expected, "\(listens)")
        for line in listens {
            let client = try BlockingClient(url: try Self.url(in: String(line)) + "echo")
            try client.send(text: "hi")
            #expect(try client.receiveMessage() == .text("hi"))
        }
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0, "stderr: \(wsgate.stderr)")
    }

    /// The `url=` field of a start-up line.
    static func url(in line: String) throws -> String {
        guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("url=") }) else {
            throw TestFailure("no url in '\(line)'")
        }
        return String(field.dropFirst("url=".count))
    }

    @Test func binaryPrintsLicenseAndExitsZero() throws {
        for flag in ["--license", "-license"] {
            let wsgate = try WsgateProcess([flag])
            #expect(wsgate.waitForExit() == 0)
            #expect(wsgate.stdout.hasPrefix("wsgate "))
            #expect(wsgate.stdout.lowercased().contains("license"))
        }
    }

    /// websocketd's switches, set to what wsgate does anyway, are accepted.
    @Test func binaryAcceptsWebsocketdSwitchesSetToFalse() throws {
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "0", "--loglevel", "info",
                                        "--reverselookup=false", "--ssl=false", "--devconsole=false", "--binary=true",
                                        "--route", "/echo=echo"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        try client.send(text: "fine")
        #expect(try client.receiveMessage() == .text("fine"))
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// A bare `echo` is the built-in (binary comes back as binary, where a line-mode program would
    /// close with 1003); the program echo is reachable by its path.
    @Test func binaryRunsTheProgramEchoOnlyWhenWrittenWithAPath() throws {
        let echo = try #require(ChildProcess.findExecutable("echo"))
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "0", "--loglevel", "info",
                                        "--route", "/builtin=echo", "--route", "/program=\(echo) from the program"])
        let port = try wsgate.listeningPort()
        let builtIn = try BlockingClient(url: "ws://127.0.0.1:\(port)/builtin")
        try builtIn.send(binary: [1, 2, 3])
        #expect(try builtIn.receiveMessage() == .binary([1, 2, 3]))
        let program = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/program"))
        #expect(program.messages == ["from the program"])
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }
}
