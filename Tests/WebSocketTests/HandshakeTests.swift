import Testing
@testable import WebSocket

@Suite("FIPS 180-4 SHA-1 and RFC 4648 Base64")
struct DigestAndEncodingTests {
    @Test(arguments: [
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
    ])
    func sha1Vectors(message: String, digest: String) {
        let hexDigest = SHA1.hash(Array(message.utf8)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(hexDigest == digest)
    }

    @Test func sha1OfOneMillionAs() {
        let digest = SHA1.hash([UInt8](repeating: 0x61, count: 1_000_000))
        #expect(digest == hex("34 aa 97 3c d4 c4 da a4 f6 1e eb 2b db ad 27 31 65 34 01 6f"))
    }

    @Test(arguments: 55...65)
    func sha1PaddingBoundariesMatchAcrossLengths(length: Int) {
        // 55, 56 and 64 bytes are where the length field spills into another block.
        #expect(SHA1.hash([UInt8](repeating: 0x61, count: length)).count == 20)
        #expect(SHA1.hash([UInt8](repeating: 0x61, count: length)) != SHA1.hash([UInt8](repeating: 0x61, count: length + 1)))
    }

    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func base64UsesTheWholeAlphabet() {
        let bytes = (0..<48).map { UInt8($0 * 4) } + [0xFB, 0xFF, 0xBF]
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    }

    @Test(arguments: ["Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v", "Zg=a", "Zh==", "Zm9=", "Zm 9v",
                      "Zm9v\n", "Zm9-", "Zm9_", "Zm9\u{e9}", "Zg==="])
    func base64RejectsNonCanonicalInput(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}

@Suite("RFC 6455 §4.2 Server handshake")
struct ServerHandshakeTests {
    static func request(method: String = "GET", version: String = "HTTP/1.1", removing: String? = nil,
                        setting: [(String, String)] = []) -> HTTPHead {
        var headers: [(name: String, value: String)] = [
            ("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Origin", "http://example.com"),
            ("Sec-WebSocket-Protocol", "chat, superchat"), ("Sec-WebSocket-Version", "13"),
        ]
        headers.removeAll { HTTPHead.namesMatch($0.name, removing ?? "") }
        for (name, value) in setting {
            headers.removeAll { HTTPHead.namesMatch($0.name, name) }
            headers.append((name, value))
        }
        return HTTPHead(startLine: .request(method: method, target: "/chat", version: version), headers: headers)
    }

    static func failure(_ request: HTTPHead) -> HandshakeFailure? {
        guard case .failure(let failure) = ServerHandshake().accept(request) else { return nil }
        return failure
    }

    @Test func acceptKeyVector() {
        #expect(ServerHandshake.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func acceptsRFCExampleWithExactResponseBytes() throws {
        let accepted = try ServerHandshake(subprotocols: ["chat"]).accept(Self.request()).get()
        #expect(accepted.subprotocol == "chat")
        #expect(String(decoding: accepted.response.serialized(), as: UTF8.self) == """
            HTTP/1.1 101 Switching Protocols\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r
            Sec-WebSocket-Protocol: chat\r
            \r

            """)
    }

    @Test func appendsExtraHeaders() throws {
        let handshake = ServerHandshake(extraHeaders: [("X-Served-By", "wsgate")])
        let accepted = try handshake.accept(Self.request()).get()
        #expect(accepted.response["X-Served-By"] == "wsgate" && accepted.response["Sec-WebSocket-Protocol"] == nil)
    }

    @Test(arguments: [("Connection", "keep-alive, Upgrade"), ("Connection", "UPGRADE"), ("Upgrade", "WebSocket"),
                      ("Upgrade", "h2c, websocket"), ("connection", "upgrade"), ("Connection", "keep-alive,upgrade")])
    func acceptsTokenListsWithoutRegardToCase(name: String, value: String) throws {
        let accepted = try ServerHandshake().accept(Self.request(setting: [(name, value)])).get()
        #expect(accepted.response["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test(arguments: [("http://server.example.com/chat?room=1", "/chat", "room=1"),
                      ("HTTPS://server.example.com:8443/chat", "/chat", ""),
                      ("http://server.example.com", "/", ""), ("http://server.example.com?x", "/", "x")])
    func acceptsAbsoluteFormTarget(target: String, path: String, query: String) throws {
        var request = Self.request()
        request.startLine = .request(method: "GET", target: target, version: "HTTP/1.1")
        #expect(throws: Never.self) { try ServerHandshake().accept(request).get() }
        #expect(request.path == path && request.query == query)
    }

    @Test(arguments: ["*", "chat", "ftp://server.example.com/chat", "server.example.com:80"])
    func refusesTargetThatNamesNoResource(target: String) {
        var request = Self.request()
        request.startLine = .request(method: "GET", target: target, version: "HTTP/1.1")
        #expect(Self.failure(request)?.response.status == 400)
    }

    @Test func acceptsRepeatedConnectionFields() throws {
        var request = Self.request(setting: [("Connection", "keep-alive")])
        request.headers.append(("Connection", "Upgrade"))
        #expect(throws: Never.self) { try ServerHandshake().accept(request).get() }
    }

    @Test(arguments: [
        (["chat", "superchat"], "chat"), (["superchat", "chat"], "superchat"), (["mqtt"], nil),
        ([], nil), (["Chat"], nil),
    ] as [([String], String?)])
    func selectsSubprotocolByServerPreference(supported: [String], selected: String?) throws {
        let accepted = try ServerHandshake(subprotocols: supported).accept(Self.request()).get()
        #expect(accepted.subprotocol == selected)
        #expect(accepted.response["Sec-WebSocket-Protocol"] == selected)
    }

    @Test(arguments: [
        (request(method: "POST"), 405), (request(version: "HTTP/1.0"), 505), (request(removing: "Host"), 400),
        (request(setting: [("Host", "")]), 400), (request(removing: "Upgrade"), 426),
        (request(setting: [("Upgrade", "h2c")]), 426), (request(removing: "Connection"), 400),
        (request(setting: [("Connection", "keep-alive")]), 400), (request(removing: "Sec-WebSocket-Key"), 400),
        (request(setting: [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ")]), 400),
        (request(setting: [("Sec-WebSocket-Key", "c2hvcnQ=")]), 400),
        (request(setting: [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZSE=")]), 400),
        (request(setting: [("Sec-WebSocket-Key", "not base64 at all!!!!!!!")]), 400),
        (request(setting: [("Sec-WebSocket-Version", "8")]), 426), (request(removing: "Sec-WebSocket-Version"), 426),
        (request(setting: [("Sec-WebSocket-Version", "13, 8")]), 426),
        (HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"),
                  headers: [("Host", "example.com")]), 426),
        (HTTPHead(startLine: .request(method: "GET", target: "*", version: "HTTP/1.1")), 400),
        (HTTPHead(startLine: .response(version: "HTTP/1.1", status: 200, reason: "OK")), 400),
    ] as [(HTTPHead, Int)])
    func refusesWithExactStatus(request: HTTPHead, status: Int) throws {
        let failure = try #require(Self.failure(request))
        #expect(failure.response.status == status)
    }

    /// A GET upgrade has no body: what follows the head is frames. A request that announces a body
    /// is refused rather than having its body read as frames (python-websockets refuses it too).
    @Test(arguments: [("Content-Length", "5"), ("Content-Length", "0"), ("content-length", ""),
                      ("Transfer-Encoding", "chunked"), ("TRANSFER-ENCODING", "identity")])
    func refusesRequestThatAnnouncesABody(name: String, value: String) throws {
        let failure = try #require(Self.failure(Self.request(setting: [(name, value)])))
        #expect(failure.response.status == 400)
        #expect(failure.response.body.contains(name.lowercased() == "content-length" ? "Content-Length" : "Transfer-Encoding"))
    }

    /// The same from the wire, the body right behind the head, however the bytes arrive.
    @Test(arguments: Chunking.allCases)
    func refusesRequestWithBodyFromTheWire(chunking: Chunking) throws {
        let text = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        var parser = HTTPHeadParser()
        var head: HTTPHead?
        for chunk in chunking.split(Array(text.utf8)) where head == nil { head = try parser.feed(chunk)?.head }
        let request = try #require(head)
        let failure = try #require(Self.failure(request))
        #expect(failure.response.status == 400)
    }

    @Test func refusesDuplicateKeyAndHost() {
        var request = Self.request()
        request.headers.append(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))
        #expect(Self.failure(request)?.response.status == 400)
        #expect(Self.failure(Self.request(setting: [("host", "a")]).appending(("Host", "b")))?.response.status == 400)
    }

    @Test func methodNotAllowedSaysAllowGET() {
        let response = HandshakeFailure.methodNotAllowed("POST").response
        #expect(response.status == 405 && response.headers.contains { $0 == ("Allow", "GET") })
    }

    @Test func versionMismatchAnnouncesVersion13() throws {
        let failure = try #require(Self.failure(Self.request(setting: [("Sec-WebSocket-Version", "8")])))
        #expect(failure == .unsupportedVersion("8"))
        #expect(failure.response.headers.contains { $0 == ("Sec-WebSocket-Version", "13") })
    }

    @Test func plainGETIsUpgradeRequired() throws {
        let request = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"), headers: [("Host", "a")])
        let failure = try #require(Self.failure(request))
        #expect(failure == .notAnUpgrade)
        #expect(failure.response.status == 426 && failure.response.headers.contains { $0 == ("Upgrade", "websocket") })
    }

    @Test(arguments: [("GET / HTTP/1.1\r\nCookie: " + String(repeating: "c", count: 200) + "\r\n\r\n", 431),
                      ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400)])
    func parserFailuresMapTo431And400(text: String, status: Int) {
        var parser = HTTPHeadParser(maxSize: 128)
        #expect(throws: HTTPHeadParser.Failure.self) {
            do throws(HTTPHeadParser.Failure) {
                _ = try parser.feed(Array(text.utf8))
            } catch {
                #expect(HandshakeFailure(error).response.status == status)
                throw error
            }
        }
    }

    @Test func refusalResponseBytes() {
        let bytes = HandshakeFailure.unsupportedHTTPVersion("HTTP/1.0").response.serialized()
        #expect(String(decoding: bytes, as: UTF8.self) == """
            HTTP/1.1 505 HTTP Version Not Supported\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Length: 61\r
            Connection: close\r
            \r
            HTTP/1.0 not supported: a WebSocket handshake needs HTTP/1.1

            """)
    }
}

extension HTTPHead {
    func appending(_ header: (String, String)) -> HTTPHead {
        var head = self
        head.headers.append(header)
        return head
    }
}

@Suite("RFC 6455 §4.1 Client handshake")
struct ClientHandshakeTests {
    static let nonce = Array("the sample nonce".utf8)

    static func response(removing: String? = nil, setting: [(String, String)] = [], status: Int = 101) -> HTTPHead {
        var headers: [(name: String, value: String)] = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ]
        headers.removeAll { HTTPHead.namesMatch($0.name, removing ?? "") }
        for (name, value) in setting {
            headers.removeAll { HTTPHead.namesMatch($0.name, name) }
            headers.append((name, value))
        }
        return HTTPHead(startLine: .response(version: "HTTP/1.1", status: status, reason: "Switching Protocols"),
                        headers: headers)
    }

    @Test func requestCarriesRFCFields() {
        let client = ClientHandshake(host: "server.example.com", target: "/chat", origin: "http://example.com",
                                     subprotocols: ["chat", "superchat"], keyBytes: Self.nonce)
        #expect(String(decoding: client.request.serialized(), as: UTF8.self) == """
            GET /chat HTTP/1.1\r
            Host: server.example.com\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            Sec-WebSocket-Version: 13\r
            Origin: http://example.com\r
            Sec-WebSocket-Protocol: chat, superchat\r
            \r

            """)
    }

    @Test func randomKeyIs16BytesAndFresh() throws {
        let first = ClientHandshake(host: "a"), second = ClientHandshake(host: "a")
        #expect(try #require(Base64.decode(first.key)).count == 16)
        #expect(first.key != second.key)
    }

    @Test func validatesRFCExampleResponse() throws {
        let client = ClientHandshake(host: "server.example.com", subprotocols: ["chat"], keyBytes: Self.nonce)
        #expect(try client.validate(Self.response()) == nil)
        #expect(try client.validate(Self.response(setting: [("Sec-WebSocket-Protocol", "chat")])) == "chat")
        #expect(try client.validate(Self.response(setting: [("upgrade", "WebSocket"), ("connection", "upgrade")])) == nil)
    }

    @Test(arguments: [
        (response(status: 200), ClientHandshakeError.unexpectedStatus(200, "Switching Protocols")),
        (response(removing: "Upgrade"), .badUpgrade(nil)),
        (response(setting: [("Upgrade", "h2c")]), .badUpgrade("h2c")),
        (response(removing: "Connection"), .badConnection(nil)),
        (response(setting: [("Connection", "close")]), .badConnection("close")),
        (response(removing: "Sec-WebSocket-Accept"), .missingAccept),
        (response(setting: [("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo")]),
         .wrongAccept(expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", received: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo")),
        (response(setting: [("Sec-WebSocket-Protocol", "superchat")]), .unexpectedSubprotocol("superchat")),
        (response(setting: [("Sec-WebSocket-Protocol", "Chat")]), .unexpectedSubprotocol("Chat")),
        (response(setting: [("Sec-WebSocket-Protocol", "chat, superchat")]), .unexpectedSubprotocol("chat, superchat")),
        (response(setting: [("Sec-WebSocket-Extensions", "permessage-deflate")]),
         .unexpectedExtensions("permessage-deflate")),
        (HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1")), .malformed("not a response")),
    ] as [(HTTPHead, ClientHandshakeError)])
    func rejectsMismatch(response: HTTPHead, error: ClientHandshakeError) {
        let client = ClientHandshake(host: "server.example.com", subprotocols: ["chat"], keyBytes: Self.nonce)
        #expect(throws: error) { try client.validate(response) }
    }

    @Test(arguments: [(["chat"], ["superchat", "chat"], "chat"), (["chat"], ["mqtt"], nil), ([], ["chat"], nil)]
          as [([String], [String], String?)])
    func roundTripsThroughServerOverTheWire(offered: [String], supported: [String], agreed: String?) throws {
        let client = ClientHandshake(host: "localhost:8080", target: "/echo?x=1", subprotocols: offered)
        var serverParser = HTTPHeadParser(kind: .request)
        let request = try #require(try serverParser.feed(client.request.serialized()))
        let accepted = try ServerHandshake(subprotocols: supported).accept(request.head).get()
        var clientParser = HTTPHeadParser(kind: .response)
        let response = try #require(try clientParser.feed(accepted.response.serialized() + [0x81, 0x00]))
        #expect(try client.validate(response.head) == agreed && accepted.subprotocol == agreed)
        #expect(response.rest == [0x81, 0x00] && request.head.path == "/echo" && request.head.query == "x=1")
    }
}
