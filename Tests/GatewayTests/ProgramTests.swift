import Client
import Foundation
import Gateway
import Testing
import WebSocket

/// The stdio contract's data path, with real child processes: lines and bytes both ways.
@Suite("Program handlers: messages on stdin and stdout")
struct ProgramTests {
    @Test func serverEchoesLinesThroughProgram() throws {
        let server = try TestServer(routes: [programRoute("/echo", handlerProgram("echo"))])
        let client = try server.connect("/echo")
        for text in ["hello", "", "  spaced  ", "ünïcødé ✓", String(repeating: "x", count: 100_000)] {
            try client.send(text: text)
            #expect(try client.receiveMessage() == .text(text))
        }
        try client.close()
        #expect(try client.waitForClose()?.code == .normalClosure)
    }

    @Test func serverSendsProgramGreetingBeforeAnyMessage() throws {
        let server = try TestServer(routes: [programRoute("/greeter", handlerProgram("greeter"))])
        let client = try server.connect("/greeter")
        #expect(try client.receiveMessage() == .text("What is your name?"))
        try client.send(text: "Ada")
        #expect(try client.receiveMessage() == .text("Hello, Ada!"))
    }

    @Test func serverPassesBinaryThroughUnchangedBothWays() throws {
        let server = try TestServer(routes: [programRoute("/cat", ProgramCommand(executable: "/bin/cat"), binary: true)])
        let client = try server.connect("/cat")
        // Every byte value, newlines and NULs included, then enough to need several pipe reads.
        var generator = SplitMix(seed: 7)
        let payload = Array(0...255).map(UInt8.init) + (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try client.send(binary: payload)
        var received: [UInt8] = []
        while received.count < payload.count {
            guard case .binary(let chunk) = try client.receiveMessage() else {
                Issue.record("a text message on a binary route")
                return
            }
            received += chunk
        }
        #expect(received == payload)
        // A text message goes to the program as its bytes, without a newline added.
        try client.send(text: "no newline")
        var text: [UInt8] = []
        while text.count < 10, case .binary(let chunk) = try client.receiveMessage() { text += chunk }
        #expect(text == Array("no newline".utf8))
    }

    @Test func serverReplacesInvalidUTF8FromProgramWithReplacementCharacter() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("bad-utf8", #"printf '\377abc\n'; printf 'ok \342\234\223\n'; printf '\342\234\n'"#)
        let server = try TestServer(routes: [programRoute("/bad", ProgramCommand(executable: program))])
        let client = try server.connect("/bad")
        let transcript = try readUntilClose(client)
        // The client's Connection validates UTF-8, so an invalid text frame would have failed the session.
        #expect(transcript.messages == ["\u{FFFD}abc", "ok ✓", "\u{FFFD}"])
        #expect(transcript.close?.code == .normalClosure)
    }

    @Test func serverSplitsLineLongerThanMaxMessageSize() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("long", "head -c 2500 /dev/zero | tr '\\0' a; echo; echo short")
        let server = try TestServer(routes: [programRoute("/long", ProgramCommand(executable: program))]) {
            $0.maxMessageSize = 1000
        }
        let client = try server.connect("/long")
        let transcript = try readUntilClose(client)
        let a = { (count: Int) in String(repeating: "a", count: count) }
        #expect(transcript.messages == [a(1000), a(1000), a(500), "short"])
        #expect(transcript.close?.code == .normalClosure)
    }

    /// A long line of 3-byte characters at a limit that is not a multiple of 3: each message holds as
    /// many whole characters as fit, and none is cut in two (which would send U+FFFD and lose it).
    @Test func serverSplitsLongLineBetweenCharacters() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("euros", "head -c 1000 /dev/zero | tr '\\0' x | sed 's/x/€/g'; echo; echo short")
        let server = try TestServer(routes: [programRoute("/euros", ProgramCommand(executable: program))]) {
            $0.maxMessageSize = 1000
        }
        let transcript = try readUntilClose(try server.connect("/euros"))
        let euros = { (count: Int) in String(repeating: "€", count: count) }
        #expect(transcript.messages == [euros(333), euros(333), euros(333), euros(1), "short"])
        #expect(transcript.close?.code == .normalClosure)
    }

    /// Invalid bytes become U+FFFD, three bytes each, and still no message is over the limit.
    @Test func serverKeepsRepairedLinesWithinMaxMessageSize() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("invalid", "head -c 1000 /dev/zero | tr '\\0' '\\377'; echo; echo short")
        let server = try TestServer(routes: [programRoute("/invalid", ProgramCommand(executable: program))]) {
            $0.maxMessageSize = 1000
        }
        let transcript = try readUntilClose(try server.connect("/invalid"))
        #expect(transcript.messages.last == "short")
        #expect(transcript.messages.dropLast().joined() == String(repeating: "\u{FFFD}", count: 1000))
        #expect(transcript.messages.allSatisfy { $0.utf8.count <= 1000 })
    }

    @Test func serverDropsCarriageReturnBeforeNewline() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("crlf", #"printf 'one\r\ntwo\r\nthree\rfour\n'"#)
        let server = try TestServer(routes: [programRoute("/crlf", ProgramCommand(executable: program))])
        let transcript = try readUntilClose(try server.connect("/crlf"))
        #expect(transcript.messages == ["one", "two", "three\rfour"])
    }

    @Test func serverSendsLastLineWithoutNewlineAtEndOfOutput() throws {
        let scripts = try ScratchScripts()
        let program = try scripts.script("unterminated", #"printf 'one\ntwo'"#)
        let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
        let transcript = try readUntilClose(try server.connect("/p"))
        #expect(transcript.messages == ["one", "two"])
        #expect(transcript.close?.code == .normalClosure)
    }

    @Test func serverClosesWith1003OnBinaryMessageToLineModeRoute() throws {
        let server = try TestServer(routes: [programRoute("/echo", handlerProgram("echo"))])
        let client = try server.connect("/echo")
        try client.send(binary: [1, 2, 3])
        let close = try client.waitForClose()
        #expect(close?.code == .unsupportedData)
        #expect(close?.reason.contains("--binary") == true)
        let start = try #require(waitForLogLine(server, event: "process.start"))
        let pid = try #require(logField("pid", in: start).flatMap { Int32($0) })
        #expect(eventually(timeout: 3) { processIsReaped(pid) }, "program \(pid) still there after the 1003 close")
    }

    /// websocketd's contract: stderr is not sent to the client but logged, one line per line, with the pid.
    @Test func serverLogsProgramStderrLinesWithPid() throws {
        let server = try TestServer(routes: [programRoute("/fail", handlerProgram("fail"))])
        let client = try server.connect("/fail")
        let transcript = try readUntilClose(client)
        #expect(transcript.messages == ["partial output"])
        let start = try #require(waitForLogLine(server, event: "process.start"))
        let pid = try #require(logField("pid", in: start))
        let line = try #require(waitForLogLine(server, event: "process.stderr"))
        #expect(logField("pid", in: line) == pid)
        #expect(logField("line", in: line) == "about to fail")
        #expect(logField("path", in: line) == "/fail", "stderr line not tagged with the route: \(line)")
        #expect(line.contains("level=stderr"), "stderr lines have their own tag: \(line)")
    }

    /// A client that sends three messages and its close in one go still gets every reply before the
    /// close reply: the close waits for the program to finish its output.
    @Test func serverRepliesToEveryMessageBeforeEchoingCloseSentAtOnce() throws {
        let server = try TestServer(routes: [programRoute("/echo", handlerProgram("echo"))])
        let client = try server.connect("/echo")
        for text in ["one", "two", "three"] { try client.send(text: text) }
        try client.close(code: .normalClosure, reason: "bye")
        let transcript = try readUntilClose(client)
        #expect(transcript.messages == ["one", "two", "three"])
        #expect(transcript.close?.code == .normalClosure)
    }

    /// The same, with the request, the messages and the close in one TCP segment.
    @Test func serverRepliesToFramesSentWithRequestAndClose() throws {
        let server = try TestServer(routes: [programRoute("/echo", handlerProgram("echo"))])
        let raw = try RawClient(port: server.port)
        var bytes = Array(upgradeRequest("/echo").utf8)
        for text in ["one", "two", "three"] { bytes += clientFrame(0x81, Array(text.utf8)) }
        bytes += clientFrame(0x88, closePayload(1000))
        let early = try raw.upgradeSending(bytes)
        let events = try raw.receiveUntilClose(after: early)
        #expect(events == [.text("one"), .text("two"), .text("three"), .close(.normalClosure, "")])
    }

    @Test func serverServesManySessionsEachWithItsOwnProgram() throws {
        let server = try TestServer(routes: [programRoute("/echo", handlerProgram("echo"))])
        let clients = try (0..<5).map { _ in try server.connect("/echo") }
        for (index, client) in clients.enumerated() { try client.send(text: "client \(index)") }
        for (index, client) in clients.enumerated() { #expect(try client.receiveMessage() == .text("client \(index)")) }
        let pids = Set(logLines(server, event: "process.start").compactMap { logField("pid", in: $0) })
        #expect(pids.count == 5)
    }
}

/// A small seeded generator, so a failing binary payload can be reproduced.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
