import Foundation
import Gateway
import Testing
import WebSocket

/// The one line a failed command wrote to stderr, or nil when it wrote none or several.
private func singleLine(_ stderr: String) -> String? {
    let lines = stderr.split(separator: "\n")
    return lines.count == 1 && stderr.hasSuffix("\n") ? String(lines[0]) : nil
}

/// End to end: every way `client`, `send` and `bench` can fail to reach a WebSocket endpoint
/// gives one clear line on stderr and exit status 1; bad flags give 2.
@Suite("wsgate client tools: errors")
struct ClientCommandErrorTests {
    @Test(arguments: [["client"], ["send", "x"]])
    func clientReportsRefusedConnection(_ command: [String]) throws {
        let port = try closedLoopbackPort()
        let run = try runWsgate([command[0], "ws://127.0.0.1:\(port)/echo"] + command.dropFirst())
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.contains("ECONNREFUSED"), "\(line)")
        #expect(run.stdout == "")
    }

    @Test func clientReportsUnresolvableHost() throws {
        let run = try runWsgate(["client", "ws://nonexistent.invalid/echo"], timeout: 20)
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.contains("resolve") && line.contains("nonexistent.invalid"), "\(line)")
    }

    @Test func clientReportsNotFoundRoute() throws {
        let server = try clientToolServer()
        let run = try runWsgate(["client", server.url + "/nope"])
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.contains("404"), "\(line)")
    }

    /// A refusal is reported with the server's own reason, its body (issue 15 saw only the status).
    @Test(arguments: [["client"], ["send", "x"]])
    func clientReportsRefusalWithTheServersReason(_ command: [String]) throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("not-executable", "echo never", executable: false)
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
        let run = try runWsgate([command[0], server.url + "/p"] + command.dropFirst())
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.hasPrefix("wsgate \(command[0]): handshake refused: 502 Bad Gateway: cannot start program \(program): EACCES"),
                "\(line)")
        #expect(run.stdout == "")
    }

    @Test func clientShowsBodyOfRefusalWithoutContentLength() throws {
        let refusing = try RawTCPServer { _ in
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbusy:\r\n\ttry again\nlater\n"
        }
        let run = try runWsgate(["send", "ws://127.0.0.1:\(refusing.port)/"])
        #expect(run.status == 1)
        #expect(run.stderr == "wsgate send: handshake refused: 503 Service Unavailable: busy: try again later\n")
    }

    /// A server that accepts the handshake, then ends the TCP connection without a close frame.
    @Test(arguments: [["client"], ["send", "x", "-n", "1"]])
    func clientReportsConnectionClosedWithoutCloseFrame(_ command: [String]) throws {
        let dropper = try RawTCPServer { request in
            let key = headerValue("Sec-WebSocket-Key", in: request) ?? ""
            return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(ServerHandshake.acceptKey(for: key))\r\n\r\n"
        }
        let run = try runWsgate([command[0], "ws://127.0.0.1:\(dropper.port)/"] + command.dropFirst())
        #expect(run.status == 1)
        let prefix = command[0] == "send" ? "wsgate send: " : ""
        #expect(run.stderr == prefix + "connection closed without a close frame (1006)\n", "stderr: \(run.stderr)")
    }

    @Test func clientReportsPlainHTTPServer() throws {
        let http = try RawTCPServer { _ in
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        }
        for command in [["client"], ["send"]] {
            let run = try runWsgate(command + ["ws://127.0.0.1:\(http.port)/"])
            #expect(run.status == 1)
            let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
            #expect(line.contains("200") && line.contains("not 101"), "\(line)")
        }
    }

    @Test func clientReportsServerThatIsNotHTTP() throws {
        let other = try RawTCPServer { _ in "SSH-2.0-OpenSSH_9.6\r\n" }
        let run = try runWsgate(["client", "ws://127.0.0.1:\(other.port)/"])
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.contains("handshake"), "\(line)")
    }

    @Test func clientRejectsWrongAcceptKey() throws {
        let liar = try RawTCPServer { request in
            // A well-formed 101 whose accept key belongs to RFC 6455's sample nonce, not to our key.
            #expect(headerValue("Sec-WebSocket-Key", in: request) != "dGhlIHNhbXBsZSBub25jZQ==")
            return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        }
        let run = try runWsgate(["client", "ws://127.0.0.1:\(liar.port)/"], input: "never sent\n")
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.contains("Sec-WebSocket-Accept") && line.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "\(line)")
        #expect(run.stdout == "")
    }

    @Test func clientReportsMissingAcceptKey() throws {
        let liar = try RawTCPServer { _ in
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        }
        let run = try runWsgate(["send", "ws://127.0.0.1:\(liar.port)/", "x"])
        #expect(run.status == 1)
        let line = try #require(singleLine(run.stderr), "stderr: \(run.stderr)")
        #expect(line.contains("Sec-WebSocket-Accept"), "\(line)")
    }

    @Test(arguments: [
        ["client"], ["client", "ws://127.0.0.1:1/", "--bogus"], ["client", "http://127.0.0.1/"],
        ["client", "ws://127.0.0.1:1/", "extra"], ["client", "ws://127.0.0.1:1/", "--exec"],
        ["client", "ws://127.0.0.1:1/", "-H", "no colon"], ["client", "ws://127.0.0.1:1/", "--timeout", "soon"],
        ["send"], ["send", "ws://127.0.0.1:1/", "-n", "-1"], ["send", "ws://127.0.0.1:1/", "--wait"],
        ["bench"], ["bench", "ws://127.0.0.1:1/", "-c", "0"], ["bench", "ws://127.0.0.1:1/", "-s", "big"],
        ["bench", "ws://127.0.0.1:1/", "--bogus"], ["bench", "http://127.0.0.1:1/"],
    ])
    func clientToolsRejectBadFlagsWithStatusTwo(_ arguments: [String]) throws {
        let run = try runWsgate(arguments)
        #expect(run.status == 2, "stderr: \(run.stderr)")
        #expect(singleLine(run.stderr) != nil, "stderr: \(run.stderr)")
        #expect(run.stdout == "")
    }

    @Test func benchReportsRefusedConnection() throws {
        let port = try closedLoopbackPort()
        let run = try runWsgate(["bench", "ws://127.0.0.1:\(port)/echo", "-c", "2", "-d", "2s", "--json"])
        #expect(run.status == 1, "stderr: \(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let errors = try #require(json["errors"] as? [String])
        #expect(errors.count == 2 && errors.allSatisfy { $0.contains("ECONNREFUSED") }, "\(errors)")
        #expect(json["completed"] as? Int == 0)
    }

    @Test func benchSummaryNamesTheError() throws {
        let port = try closedLoopbackPort()
        let started = Date()
        let run = try runWsgate(["bench", "ws://127.0.0.1:\(port)/echo", "-d", "5s"])
        #expect(run.status == 1, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("errors: 1") && run.stdout.contains("ECONNREFUSED"), "stdout: \(run.stdout)")
        #expect(Date().timeIntervalSince(started) < 3, "bench waited out its duration with no connection left")
    }
}
