import Testing
@testable import WebSocket

@Suite("RFC 9112 HTTP head parsing")
struct HTTPHeadParserTests {
    static let request = Array("""
        GET /chat?room=1 HTTP/1.1\r
        Host: server.example.com\r
        Upgrade: websocket\r
        Connection: Upgrade\r
        X-Empty:\r
        X-Spaced: \t  padded value \t\r
        \r

        """.utf8)

    static let expected = HTTPHead(startLine: .request(method: "GET", target: "/chat?room=1", version: "HTTP/1.1"),
                                   headers: [("Host", "server.example.com"), ("Upgrade", "websocket"),
                                             ("Connection", "Upgrade"), ("X-Empty", ""), ("X-Spaced", "padded value")])

    @Test(arguments: Chunking.allCases)
    func parsesRequestFedInPieces(chunking: Chunking) throws {
        var parser = HTTPHeadParser()
        var result: (head: HTTPHead, rest: [UInt8])?
        var after: [UInt8] = []
        for chunk in chunking.split(Self.request + [0x81, 0x80]) {
            if result == nil { result = try parser.feed(chunk) } else { after += chunk }
        }
        #expect(result?.head == Self.expected)
        #expect((result?.rest ?? []) + after == [0x81, 0x80])
    }

    @Test func returnsBytesAfterHeadAsRest() throws {
        var parser = HTTPHeadParser()
        let result = try #require(try parser.feed(Self.request + [0x81, 0x85, 0x37]))
        #expect(result.head == Self.expected && result.rest == [0x81, 0x85, 0x37])
        #expect(parser.bufferedCount == 0)
    }

    @Test func byteAtATimeReturnsNothingUntilTheLastByte() throws {
        var parser = HTTPHeadParser()
        for byte in Self.request.dropLast() { #expect(try parser.feed([byte]) == nil) }
        let result = try #require(try parser.feed([Self.request.last!]))
        #expect(result.head == Self.expected && result.rest == [])
    }

    @Test func acceptsBareLF() throws {
        var parser = HTTPHeadParser()
        let result = try #require(try parser.feed(Array("GET / HTTP/1.1\nHost: a\n\nrest".utf8)))
        #expect(result.head.target == "/" && result.head["host"] == "a" && result.rest == Array("rest".utf8))
    }

    @Test func acceptsMixedLineEndings() throws {
        var parser = HTTPHeadParser()
        let result = try #require(try parser.feed(Array("GET / HTTP/1.1\r\nHost: a\n\r\n".utf8)))
        #expect(result.head["Host"] == "a" && result.rest == [])
    }

    /// Found by fuzzing: HTTP whitespace and list commas are bytes, even when a combining mark follows.
    @Test func trimsAndSplitsOnBytesNotCharacters() {
        let head = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"),
                            headers: [("Upgrade", "websocket,\u{301}"), ("X-B", " \u{301}b\t")])
        #expect(head.listElements(of: "Upgrade") == ["websocket", "\u{301}"])
        #expect(head.listElements(of: "X-B") == ["\u{301}b"])
        #expect(Substring(" \u{301}b ").trimmingHTTPWhitespace() == "\u{301}b")
    }

    @Test func parsesResponse() throws {
        var parser = HTTPHeadParser(kind: .response)
        let result = try #require(try parser.feed(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".utf8)))
        #expect(result.head.startLine == .response(version: "HTTP/1.1", status: 101, reason: "Switching Protocols"))
        #expect(result.head.values(of: "UPGRADE") == ["websocket"])
    }

    @Test func keepsRepeatedFieldsInOrder() throws {
        var parser = HTTPHeadParser()
        let result = try #require(try parser.feed(Array("GET / HTTP/1.1\r\nA: 1\r\nB: x\r\na: 2\r\n\r\n".utf8)))
        #expect(result.head.values(of: "a") == ["1", "2"] && result.head["A"] == "1, 2")
    }

    @Test func headOfExactlyMaxSizeIsAccepted() throws {
        var parser = HTTPHeadParser(maxSize: Self.request.count)
        #expect(try parser.feed(Self.request)?.head == Self.expected)
    }

    @Test(arguments: Chunking.allCases)
    func headOneByteOverMaxSizeIsTooLarge(chunking: Chunking) {
        var parser = HTTPHeadParser(maxSize: Self.request.count - 1)
        #expect(throws: HTTPHeadParser.Failure.tooLarge(limit: Self.request.count - 1)) {
            for chunk in chunking.split(Self.request) { _ = try parser.feed(chunk) }
        }
    }

    @Test func unendingHeadIsTooLargeAsSoonAsItPassesTheBound() throws {
        var parser = HTTPHeadParser(maxSize: 100)
        #expect(try parser.feed([UInt8](repeating: 0x41, count: 100)) == nil)
        #expect(throws: HTTPHeadParser.Failure.tooLarge(limit: 100)) { try parser.feed([0x41]) }
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost server\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : server\r\n\r\n",
        "GET / HTTP/1.1\r\n: server\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\u{01}b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        "GET /  HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/11\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "\r\n\rGET / HTTP/1.1\r\n\r\n",
    ])
    func rejectsMalformedRequest(text: String) {
        var parser = HTTPHeadParser()
        #expect(throws: HTTPHeadParser.Failure.self) { try parser.feed(Array(text.utf8)) }
    }

    /// RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore
    /// at least one empty line (CRLF) received prior to the request-line."
    @Test(arguments: Chunking.allCases)
    func ignoresEmptyLinesBeforeRequestLine(chunking: Chunking) throws {
        var parser = HTTPHeadParser()
        var result: (head: HTTPHead, rest: [UInt8])?
        var after: [UInt8] = []
        for chunk in chunking.split(Array("\r\n\n\r\n".utf8) + Self.request + [0x81, 0x80]) {
            if result == nil { result = try parser.feed(chunk) } else { after += chunk }
        }
        #expect(result?.head == Self.expected)
        #expect((result?.rest ?? []) + after == [0x81, 0x80])
    }

    /// Empty lines only ever wait for a request line: nothing is parsed, nothing refused.
    @Test func emptyLinesAloneWaitForTheRequestLine() throws {
        var parser = HTTPHeadParser()
        #expect(try parser.feed(Array("\r\n\r\n\n\r".utf8)) == nil)
        #expect(try parser.feed(Array("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))?.head["Host"] == "a")
    }

    /// The empty lines count toward the bound on the head, so an endless stream of them is a 431.
    @Test(arguments: Chunking.allCases)
    func emptyLinesCountTowardTheHeadLimit(chunking: Chunking) throws {
        let input = Array("\r\n\r\n".utf8) + Self.request
        var fits = HTTPHeadParser(maxSize: input.count)
        var result: (head: HTTPHead, rest: [UInt8])?
        for chunk in chunking.split(input) where result == nil { result = try fits.feed(chunk) }
        #expect(result?.head == Self.expected)

        var over = HTTPHeadParser(maxSize: input.count - 1)
        #expect(throws: HTTPHeadParser.Failure.tooLarge(limit: input.count - 1)) {
            for chunk in chunking.split(input) { _ = try over.feed(chunk) }
        }
        var endless = HTTPHeadParser(maxSize: 100)
        #expect(throws: HTTPHeadParser.Failure.tooLarge(limit: 100)) {
            for chunk in chunking.split([UInt8](repeating: 0x0A, count: 101)) { _ = try endless.feed(chunk) }
        }
    }

    /// Only a server skips them: a client expects the status line first.
    @Test func responseMayNotStartWithEmptyLine() {
        var parser = HTTPHeadParser(kind: .response)
        #expect(throws: HTTPHeadParser.Failure.self) {
            try parser.feed(Array("\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n".utf8))
        }
    }

    @Test(arguments: ["HTTP/1.1 1011 X\r\n\r\n", "HTTP/1.1 abc X\r\n\r\n", "HTTP/1.1\r\n\r\n", "ICY 200 OK\r\n\r\n"])
    func rejectsMalformedStatusLine(text: String) {
        var parser = HTTPHeadParser(kind: .response)
        #expect(throws: HTTPHeadParser.Failure.self) { try parser.feed(Array(text.utf8)) }
    }

    @Test func pathAndQuery() {
        let head = HTTPHead(startLine: .request(method: "GET", target: "/a/b?c=d?e", version: "HTTP/1.1"))
        #expect(head.path == "/a/b" && head.query == "c=d?e")
    }

    @Test func tokensAreTrimmedLowerCasedAndNonEmpty() {
        let head = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"),
                            headers: [("Connection", " keep-alive ,, Upgrade\t"), ("connection", "close")])
        #expect(head.tokens(of: "CONNECTION") == ["keep-alive", "upgrade", "close"])
    }

    @Test func containsTokenMatchesWholeTokensWithoutRegardToCase() {
        let head = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"),
                            headers: [("connection", " keep-alive ,, UpGrade\t"), ("Upgrade", "websocketx, h2c")])
        #expect(head.containsToken("upgrade", in: "CONNECTION"))
        #expect(head.containsToken("keep-alive", in: "Connection"))
        #expect(!head.containsToken("websocket", in: "Upgrade"))  // a prefix of a token is not the token
        #expect(!head.containsToken("upgrade", in: "Upgrade"))
        #expect(head.hasField("UPGRADE") && !head.hasField("Upgrade2"))
    }

    @Test func namesFoldOnlyLettersCase() {
        // '@' | 0x20 is '`': folding applies to letters only.
        #expect(HTTPHead.namesMatch("X-@", "x-@") && HTTPHead.namesMatch("SEC-WEBSOCKET-KEY", "Sec-WebSocket-Key"))
        #expect(!HTTPHead.namesMatch("X-@", "X-`") && !HTTPHead.namesMatch("[", "{"))
    }
}
