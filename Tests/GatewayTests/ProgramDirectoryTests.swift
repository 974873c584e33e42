import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// websocketd's `--dir`: every executable file below a directory is a program at its own path.
@Suite("Program handlers: --dir")
struct ProgramDirectoryTests {
    /// A directory with two programs (one in a subdirectory), a plain file and a directory.
    static func makeScripts() throws -> ScratchScripts {
        let scripts = try ScratchScripts()
        let printNames = #"echo "SCRIPT_NAME=$SCRIPT_NAME"; echo "PATH_INFO=$PATH_INFO"; echo "QUERY_STRING=$QUERY_STRING""#
        try scripts.script("hello", printNames)
        try scripts.script("sub/deep", printNames)
        try scripts.script("notes.txt", "echo never", executable: false)
        return scripts
    }

    struct Served: Sendable, CustomTestStringConvertible {
        let target: String
        let lines: [String]
        var testDescription: String { self.target }
    }

    @Test(arguments: [
        Served(target: "/hello", lines: ["SCRIPT_NAME=/hello", "PATH_INFO=", "QUERY_STRING="]),
        Served(target: "/hello/extra/parts?q=1", lines: ["SCRIPT_NAME=/hello", "PATH_INFO=/extra/parts", "QUERY_STRING=q=1"]),
        Served(target: "/sub/deep", lines: ["SCRIPT_NAME=/sub/deep", "PATH_INFO=", "QUERY_STRING="]),
        Served(target: "/sub/deep/x", lines: ["SCRIPT_NAME=/sub/deep", "PATH_INFO=/x", "QUERY_STRING="]),
    ])
    func serverRunsExecutableAtItsPath(_ served: Served) throws {
        let scripts = try Self.makeScripts()
        let server = try TestServer(routes: [Route("/*", .directory(scripts.path, mode: .lines))])
        let transcript = try readUntilClose(try server.connect(served.target))
        #expect(transcript.messages == served.lines)
        #expect(transcript.close?.code == .normalClosure)
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let target: String
        let body: String
        var testDescription: String { self.target }
    }

    /// Never a program outside the directory or one that cannot run: 404 with why, and a log line.
    @Test(arguments: [
        Refused(target: "/notes.txt", body: "/notes.txt is not an executable program"),
        Refused(target: "/missing", body: "/missing not found"),
        Refused(target: "/sub", body: "/sub is a directory"),
        Refused(target: "/../hello", body: "invalid path"),
        Refused(target: "/sub/../hello", body: "invalid path"),
        Refused(target: "/sub/../../etc/passwd", body: "invalid path"),
        Refused(target: "/./hello", body: "invalid path"),
        Refused(target: "//hello", body: "invalid path"),
    ])
    func serverRefusesPathThatIsNoProgramWith404(_ refused: Refused) throws {
        let scripts = try Self.makeScripts()
        let server = try TestServer(routes: [Route("/*", .directory(scripts.path, mode: .lines))])
        let response = try rawHTTP(port: server.port, upgradeRequest(refused.target))
        #expect(statusCode(response) == 404, "\(response)")
        #expect(response.hasSuffix("\r\n\r\n" + refused.body + "\n"), "\(response)")
        #expect(waitForLogLine(server, event: "handshake.handler_failed", containing: "status=404") != nil)
        #expect(logLines(server, event: "process.start").isEmpty)
    }

    @Test func serverServesDirectoryProgramsInBinaryMode() throws {
        let scripts = try ScratchScripts()
        try scripts.script("cat", "exec cat")
        let server = try TestServer(routes: [Route("/*", .directory(scripts.path, mode: .binary))])
        let client = try server.connect("/cat")
        try client.send(binary: [0, 10, 255])
        #expect(try client.receiveMessage() == .binary([0, 10, 255]))
    }
}
