import Client
import Foundation
import Gateway
import Reactor
import Testing
import WebSocket

/// The built binary's log: what it says at start-up, and what each `--loglevel` shows.
@Suite("wsgate binary: start-up lines and log levels")
struct LogLevelTests {
    /// One `server.route` line per route (path, handler, mode, command, a URL), then one
    /// `server.listen` line per address with its URL, as websocketd says what it serves.
    @Test func binarySaysWhatItServesAtStartUp() throws {
        let count = repositoryRoot + "/handlers/count"
        let hub = repositoryRoot + "/handlers/hub"
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "0", "--route", "/echo=echo",
                                        "--route", "/count=\(count) --to 2", "--route", "/hub/*=shared:\(hub)"])
        let port = try wsgate.listeningPort()
        let lines = wsgate.stderr.split(separator: "\n").map(String.init)
        let base = "ws://127.0.0.1:\(port)"
        let routes = lines.filter { $0.contains("event=server.route") }
        #expect(routes.count == 3, "\(routes)")
        #expect(routes.contains { $0.hasSuffix("level=info event=server.route path=/echo handler=echo url=\(base)/echo") }, "\(routes)")
        #expect(routes.contains {
            $0.hasSuffix(#"event=server.route path=/count handler=\#(count) mode=lines command="\#(count) --to 2" url=\#(base)/count"#)
        }, "\(routes)")
        #expect(routes.contains {
            $0.hasSuffix("event=server.route path=/hub/* handler=shared:\(hub) mode=shared command=\(hub) url=\(base)/hub/*")
        }, "\(routes)")
        let listen = try #require(lines.first { $0.contains("event=server.listen") })
        #expect(listen.hasSuffix("level=info event=server.listen address=127.0.0.1:\(port) url=\(base)/"), "\(listen)")
        let lastRoute = try #require(lines.lastIndex { $0.contains("event=server.route") })
        #expect(lastRoute < lines.firstIndex(of: listen)!, "routes come before the listen lines")
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// A wildcard address is no URL a client can use: the line says it is a wildcard, and its URL
    /// is the loopback address, which reaches it from this host.
    @Test func binarySaysWhenItListensOnAWildcard() throws {
        let wsgate = try WsgateProcess(["--address", "0.0.0.0", "--port", "0", "--route", "/echo=echo"])
        let port = try wsgate.listeningPort()
        let listen = try wsgate.waitForLine(containing: "event=server.listen")
        #expect(listen.hasSuffix(#"address=0.0.0.0:\#(port) url=ws://127.0.0.1:\#(port)/ wildcard="every IPv4 address of this host""#),
                "\(listen)")
        let route = try wsgate.waitForLine(containing: "event=server.route")
        #expect(route.hasSuffix("url=ws://127.0.0.1:\(port)/echo"), "\(route)")
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        try client.send(text: "reached")
        #expect(try client.receiveMessage() == .text("reached"))
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// An event of each level, as the run below produces it.
    static let marks: [(level: LogLevel, event: String)] = [
        (.debug, "event=frame"),
        (.trace, "event=process.start"),
        (.trace, "event=process.exit"),
        (.access, "event=session.open"),
        (.access, "event=session.close"),
        (.info, "event=server.route"),
        (.info, "event=server.listen"),
        (.info, "event=handshake.not_found"),
        (.info, "event=server.shutdown"),
        (.error, "level=error event=process.spawn_failed"),
    ]

    /// websocketd's order, most verbose first: each level shows its own lines and those of every
    /// later level, and nothing of an earlier one. A program's stderr is tagged `level=stderr` and
    /// shown whenever errors are.
    @Test(arguments: LogLevel.allCases)
    func binaryShowsALevelAndTheLaterOnes(level: LogLevel) throws {
        let log = try Self.runEveryKindOfEvent(["--loglevel", "\(level)"])
        for mark in Self.marks {
            #expect(log.contains(mark.event) == (mark.level >= level), "\(mark.event) at \(level): \(log)")
        }
        #expect(log.contains("level=stderr event=process.stderr") == (level <= .error), "\(log)")
        for line in log.split(separator: "\n") {
            let name = try #require(line.split(separator: " ").first { $0.hasPrefix("level=") }?.dropFirst("level=".count))
            if name == "stderr" { continue }
            let shown = try #require(LogLevel(name: String(name)), "\(line)")
            #expect(shown >= level, "\(line) at --loglevel \(level)")
        }
        if level == .fatal { #expect(log.isEmpty, "\(log)") }
    }

    /// `--log-stderr=false` drops a chatty program's lines and keeps wsgate's own errors.
    @Test func binaryDropsProgramStderrWhenAskedTo() throws {
        let log = try Self.runEveryKindOfEvent(["--loglevel", "error", "--log-stderr=false"])
        #expect(!log.contains("process.stderr"), "\(log)")
        #expect(log.contains("level=error event=process.spawn_failed"), "\(log)")
    }

    /// Runs wsgate with `flags` on a free port and, in turn: an echo round trip (frames, session
    /// lines), a request for a path with no route (refusal), a program that writes a line to
    /// stderr (start, exit, stderr), one that cannot be started any more (spawn failure), and a
    /// shutdown. Returns everything wsgate logged.
    static func runEveryKindOfEvent(_ flags: [String]) throws -> String {
        let scripts = try ScratchScripts()
        let chatty = try scripts.script("chatty", "echo 'a chatty line' >&2\nread -r line\necho \"$line\"")
        let doomed = try scripts.script("doomed", "exit 0")
        let port = try freeLoopbackPort()
        let wsgate = try WsgateProcess(["--address", "127.0.0.1", "--port", "\(port)", "--route", "/echo=echo",
                                        "--route", "/chatty=\(chatty)", "--route", "/doomed=\(doomed)"] + flags)
        // At error and fatal nothing says the server is up: it is once a handshake is answered.
        var echo: BlockingClient?
        _ = eventually(timeout: 10) {
            echo = try? BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
            return echo != nil
        }
        let client = try #require(echo, "wsgate did not start: \(wsgate.stderr)")
        try client.send(text: "hi")
        #expect(try client.receiveMessage() == .text("hi"))
        try client.close()
        _ = try client.waitForClose()

        #expect(statusCode(try rawHTTP(port: port, upgradeRequest("/nope"))) == 404)

        let program = try BlockingClient(url: "ws://127.0.0.1:\(port)/chatty")
        try program.send(text: "ok")
        #expect(try readUntilClose(program).messages == ["ok"])

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: doomed)
        #expect(statusCode(try rawHTTP(port: port, upgradeRequest("/doomed"))) == 502)

        // The stderr line is read apart from stdout: where it is shown, wait for it before stopping.
        let showsStderr = !flags.contains("--log-stderr=false") && !flags.contains("fatal")
        if showsStderr { _ = try wsgate.waitForLine(containing: "event=process.stderr") }
        // Closes and exits are logged once the session and its program are done.
        if flags.contains("trace") || flags.contains("debug") { _ = try wsgate.waitForLine(containing: "event=process.exit") }
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0, "stderr: \(wsgate.stderr)")
        return wsgate.stderr
    }
}

/// A loopback port free a moment ago: for runs whose log level hides the listen line.
func freeLoopbackPort() throws -> UInt16 {
    let socket = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
    defer { socket.close() }
    return try socket.localAddress.port
}
