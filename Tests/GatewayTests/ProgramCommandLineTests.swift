import Client
import Foundation
import Testing
import WebSocket

/// The program flags of the built binary: --route with a quoted command, websocketd's
/// `wsgate [flags] COMMAND ARGS` form, --dir, --passenv, --maxforks and the header flags.
@Suite("wsgate binary: program flags")
struct ProgramCommandLineTests {
    static let serve = ["--address", "127.0.0.1", "--port", "0", "--loglevel", "info"]

    /// `./handlers/count` when the tests run from the repository (as `swift test` does), else its absolute path.
    static var countProgram: String {
        FileManager.default.currentDirectoryPath == repositoryRoot ? "./handlers/count" : repositoryRoot + "/handlers/count"
    }

    @Test func binaryRunsRouteCommandWithItsArguments() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/count=\(Self.countProgram) --to 2 --pause 0"])
        let port = try wsgate.listeningPort()
        let transcript = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/count"))
        #expect(transcript.messages == ["1", "2"])
        #expect(transcript.close?.code == .normalClosure)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0, "stderr: \(wsgate.stderr)")
    }

    /// Quotes and backslashes group words as a shell would; each word is one argument.
    @Test func binarySplitsQuotedRouteCommandLikeShell() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("args", #"for a in "$@"; do echo "[$a]"; done"#)
        let command = #"\#(program) 'one two' "three \"four\"" five\ six $HOME"#
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/args=\(command)"])
        let port = try wsgate.listeningPort()
        let transcript = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/args"))
        #expect(transcript.messages == ["[one two]", #"[three "four"]"#, "[five six]", "[$HOME]"])
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// websocketd's form: everything after the first non-flag word is the program and its arguments
    /// (its `--to` is not wsgate's), and it serves every path.
    @Test func binaryServesTrailingCommandOnEveryPath() throws {
        let wsgate = try WsgateProcess(Self.serve + [repositoryRoot + "/handlers/count", "--to", "3", "--pause", "0"])
        let port = try wsgate.listeningPort()
        for path in ["/", "/any/path?x=1"] {
            let transcript = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)\(path)"))
            #expect(transcript.messages == ["1", "2", "3"], "\(path)")
            #expect(transcript.close?.code == .normalClosure)
        }
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryGivesTrailingCommandWholePathAsPathInfo() throws {
        let wsgate = try WsgateProcess(Self.serve + [repositoryRoot + "/handlers/env"])
        let port = try wsgate.listeningPort()
        let lines = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/some/path?q=1")).messages
        let environment = ProgramEnvironmentTests.environment(lines)
        #expect(environment["SCRIPT_NAME"] == "/")
        #expect(environment["PATH_INFO"] == "/some/path")
        #expect(environment["QUERY_STRING"] == "q=1")
        #expect(environment["HOME"] == nil)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryPassesEnvironmentNamedByPassenv() throws {
        let home = try #require(ProcessInfo.processInfo.environment["HOME"], "the test needs HOME set")
        let wsgate = try WsgateProcess(Self.serve + ["--passenv", "PATH,HOME", repositoryRoot + "/handlers/env"])
        let port = try wsgate.listeningPort()
        let lines = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/")).messages
        #expect(ProgramEnvironmentTests.environment(lines)["HOME"] == home)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryPassesBytesWithBinaryFlag() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--binary", "/bin/cat"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/")
        try client.send(binary: [0, 10, 13, 255])
        #expect(try client.receiveMessage() == .binary([0, 10, 13, 255]))
        try client.close()
        #expect(try client.waitForClose()?.code == .normalClosure)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryServesBinaryRouteNextToLineRoute() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--binary-route", "/bytes=/bin/cat",
                                                     "--route", "/lines=\(repositoryRoot)/handlers/echo"])
        let port = try wsgate.listeningPort()
        let bytes = try BlockingClient(url: "ws://127.0.0.1:\(port)/bytes")
        try bytes.send(binary: [1, 2, 3])
        #expect(try bytes.receiveMessage() == .binary([1, 2, 3]))
        let lines = try BlockingClient(url: "ws://127.0.0.1:\(port)/lines")
        try lines.send(text: "text")
        #expect(try lines.receiveMessage() == .text("text"))
        try lines.send(binary: [1])
        #expect(try lines.waitForClose()?.code == .unsupportedData)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryServesDirectoryWithDirFlag() throws {
        let scripts = try ScratchScripts()
        try scripts.script("hello", #"echo "hello from $SCRIPT_NAME$PATH_INFO""#)
        try scripts.script("data", "echo never", executable: false)
        let wsgate = try WsgateProcess(Self.serve + ["--dir", scripts.path])
        let port = try wsgate.listeningPort()
        let transcript = try readUntilClose(try BlockingClient(url: "ws://127.0.0.1:\(port)/hello/there"))
        #expect(transcript.messages == ["hello from /hello/there"])
        #expect(statusCode(try rawHTTP(port: port, upgradeRequest("/data"))) == 404)
        #expect(statusCode(try rawHTTP(port: port, upgradeRequest("/../hello"))) == 404)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    @Test func binaryRefusesUpgradesBeyondMaxforks() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--maxforks", "1", repositoryRoot + "/handlers/greeter"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/")
        #expect(try client.receiveMessage() == .text("What is your name?"))
        let refused = try rawHTTP(port: port, upgradeRequest("/"))
        #expect(statusCode(refused) == 503)
        #expect(refused.hasSuffix("\r\n\r\ntoo many programs running (limit 1)\n"), "\(refused)")
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    struct Missing: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        var testDescription: String { self.arguments.joined(separator: " ") }
    }

    /// A program that is not there is refused at start-up, as websocketd does: exit 2 and why.
    @Test(arguments: [
        Missing(arguments: ["--route", "/x=./handlers/no-such-program"]),
        Missing(arguments: ["--route", "/x=no-such-program-on-path --flag"]),
        Missing(arguments: ["./handlers/no-such-program", "arg"]),
        Missing(arguments: ["--dir", "/no/such/directory"]),
    ])
    func binaryExitsWith2ForMissingProgram(_ missing: Missing) throws {
        let wsgate = try WsgateProcess(Self.serve + missing.arguments)
        #expect(wsgate.waitForExit(timeout: 5) == 2)
        let said = wsgate.stderr
        #expect(said.contains("not found") || said.contains("not a directory"), "stderr: \(said)")
        #expect(said.hasPrefix("wsgate: "), "stderr: \(said)")
    }

    @Test func binaryExitsWith2ForUnclosedQuoteInRoute() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--route", "/x=/bin/echo 'unclosed"])
        #expect(wsgate.waitForExit(timeout: 5) == 2)
        #expect(wsgate.stderr.contains("unclosed '"), "stderr: \(wsgate.stderr)")
    }

    /// --header goes on every response, --header-ws only on the 101, --header-http only on refusals.
    @Test func binaryAddsHeadersByResponseKind() throws {
        let wsgate = try WsgateProcess(Self.serve + ["--header", "X-All: everywhere", "--header-ws", "X-Upgrade: ws only",
                                                     "--header-http", "X-Refusal: http only",
                                                     "--route", "/echo=\(repositoryRoot)/handlers/echo"])
        let port = try wsgate.listeningPort()
        let client = try BlockingClient(url: "ws://127.0.0.1:\(port)/echo")
        #expect(client.response["X-All"] == "everywhere")
        #expect(client.response["X-Upgrade"] == "ws only")
        #expect(client.response["X-Refusal"] == nil)

        let notFound = try rawHTTP(port: port, upgradeRequest("/nope"))
        #expect(statusCode(notFound) == 404)
        #expect(header("X-All", in: notFound) == "everywhere")
        #expect(header("X-Refusal", in: notFound) == "http only")
        #expect(header("X-Upgrade", in: notFound) == nil)
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }
}
