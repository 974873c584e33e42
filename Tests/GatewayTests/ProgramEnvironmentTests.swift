import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// A program's environment: websocketd's CGI variables, one HTTP_* per request header, and only
/// the variables of wsgate's own environment that are passed through.
@Suite("Program handlers: CGI environment")
struct ProgramEnvironmentTests {
    /// Every variable the request defines, none missing and nothing else but PATH,
    /// LD_LIBRARY_PATH (when wsgate has them) and the PWD that /bin/sh sets itself.
    @Test func programSeesEveryCGIVariableAndNothingElse() throws {
        let server = try TestServer(routes: [programRoute("/env/*", handlerProgram("env"))])
        let raw = try RawClient(port: server.port)
        let request = "GET /env/extra/path?a=1&b=two%20x HTTP/1.1\r\nHost: example.test:9999\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\nX-Custom-Thing: hello world\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n"
        let early = try raw.upgradeSending(Array(request.utf8))
        let events = try raw.receiveUntilClose(after: early)
        #expect(events.last == .close(.normalClosure, ""))
        let environment = Self.environment(events)

        let expected: [String: String] = [
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_HOST": "127.0.0.1",
            "REMOTE_PORT": String(try Self.localPort(of: raw.fd)),
            "SERVER_NAME": "example.test",
            "SERVER_PORT": "9999",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "wsgate/0.1.0",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": "GET",
            "REQUEST_URI": "/env/extra/path?a=1&b=two%20x",
            "SCRIPT_NAME": "/env",
            "PATH_INFO": "/extra/path",
            "QUERY_STRING": "a=1&b=two%20x",
            "PATH_TRANSLATED": "/env/extra/path",
            "AUTH_TYPE": "",
            "CONTENT_LENGTH": "",
            "CONTENT_TYPE": "",
            "REMOTE_IDENT": "",
            "REMOTE_USER": "",
            "HTTP_HOST": "example.test:9999",
            "HTTP_UPGRADE": "websocket",
            "HTTP_CONNECTION": "Upgrade",
            "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
            "HTTP_SEC_WEBSOCKET_VERSION": "13",
            "HTTP_X_CUSTOM_THING": "hello world",
            "HTTP_X_MULTI": "one, two",
        ]
        for (name, value) in expected {
            #expect(environment[name] == value, "\(name)")
        }
        let uniqueID = try #require(environment["UNIQUE_ID"])
        #expect(!uniqueID.isEmpty && uniqueID.allSatisfy(\.isNumber), "UNIQUE_ID=\(uniqueID)")

        let parent = ProcessInfo.processInfo.environment
        let inherited = ["PATH", "LD_LIBRARY_PATH"].filter { parent[$0] != nil }
        for name in inherited { #expect(environment[name] == parent[name], "\(name)") }
        let allowed = Set(expected.keys).union(["UNIQUE_ID", "PWD"]).union(inherited)
        #expect(Set(environment.keys).subtracting(allowed) == [], "variables leaked into the program")
        #expect(environment["HOME"] == nil)
    }

    @Test func programSeesQueryStringAndEmptyPathInfoOnExactRoute() throws {
        let server = try TestServer(routes: [programRoute("/env", handlerProgram("env"))])
        let client = try server.connect("/env?name=Ada&x=%2F")
        let environment = Self.environment(try readUntilClose(client).messages)
        #expect(environment["QUERY_STRING"] == "name=Ada&x=%2F")
        #expect(environment["REQUEST_URI"] == "/env?name=Ada&x=%2F")
        #expect(environment["SCRIPT_NAME"] == "/env")
        #expect(environment["PATH_INFO"] == "")
        #expect(environment["SERVER_PORT"] == String(server.port))
    }

    @Test func programGetsUniqueIDPerSession() throws {
        let server = try TestServer(routes: [programRoute("/env", handlerProgram("env"))])
        let ids = try (0..<3).map { _ in
            Self.environment(try readUntilClose(try server.connect("/env")).messages)["UNIQUE_ID"]
        }
        #expect(ids.allSatisfy { $0 != nil })
        #expect(Set(ids).count == 3, "UNIQUE_ID repeated: \(ids)")
    }

    /// With HOME passed through, the program has it; a passed variable wsgate does not have stays unset.
    @Test func programInheritsOnlyPassedVariables() throws {
        let home = try #require(ProcessInfo.processInfo.environment["HOME"], "the test needs HOME set")
        let server = try TestServer(routes: [programRoute("/env", handlerProgram("env"))]) {
            $0.passEnvironment = ["PATH", "HOME", "WSGATE_TEST_SURELY_UNSET"]
        }
        let environment = Self.environment(try readUntilClose(try server.connect("/env")).messages)
        #expect(environment["HOME"] == home)
        #expect(environment["WSGATE_TEST_SURELY_UNSET"] == nil)
        #expect(environment["PATH"] == ProcessInfo.processInfo.environment["PATH"])
        #expect(environment["LD_LIBRARY_PATH"] == nil, "not in the pass list, so not passed")
    }

    /// NAME=value lines from handlers/env, as a dictionary.
    static func environment(_ lines: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for line in lines {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    static func environment(_ events: [Connection.Event]) -> [String: String] {
        Self.environment(events.compactMap { if case .text(let line) = $0 { line } else { nil } })
    }

    /// The client side's port of a connected socket: what the server sees as REMOTE_PORT.
    static func localPort(of fd: Int32) throws -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw TestFailure("getsockname failed: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }
}
