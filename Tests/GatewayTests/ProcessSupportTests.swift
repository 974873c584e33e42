import Foundation
import Glibc
import Testing
import WebSocket

@testable import Gateway

/// The pure pieces of program handlers, without processes or sockets.
@Suite("ProgramCommand: shell-like splitting")
struct ProgramCommandParsingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let words: [String]
        var testDescription: String { self.text }
    }

    @Test(arguments: [
        Case(text: "./handlers/echo", words: ["./handlers/echo"]),
        Case(text: "  ./count   --to 2\t--pause 0 \n", words: ["./count", "--to", "2", "--pause", "0"]),
        Case(text: "prog 'a b' c", words: ["prog", "a b", "c"]),
        Case(text: #"prog "a b" "" ''"#, words: ["prog", "a b", "", ""]),
        Case(text: #"prog 'it'\''s'"#, words: ["prog", "it's"]),
        Case(text: #"prog "say \"hi\" \\ \$HOME \`x\` \n""#, words: ["prog", #"say "hi" \ $HOME `x` \n"#]),
        Case(text: #"prog a\ b \'c\' \\"#, words: ["prog", "a b", "'c'", "\\"]),
        Case(text: #"prog 'single "keeps" \ all'"#, words: ["prog", #"single "keeps" \ all"#]),
        Case(text: "prog a'b'\"c\"d", words: ["prog", "abcd"]),
        Case(text: "prog $HOME ~ * $(id)", words: ["prog", "$HOME", "~", "*", "$(id)"]),
    ])
    func commandSplitsLikePOSIXShellWithoutExpansion(_ test: Case) throws {
        let command = try ProgramCommand(parsing: test.text)
        #expect([command.executable] + command.arguments == test.words)
    }

    @Test(arguments: ["", "   ", "prog 'open", #"prog "open"#, #"prog "open\"#, "prog trailing\\"])
    func commandRejectsEmptyOrUnterminatedText(_ text: String) {
        #expect(throws: ProgramCommand.Invalid.self) { try ProgramCommand(parsing: text) }
    }

    /// `description` is what a shell (and `parsing`) reads back as the same words.
    @Test(arguments: [
        ProgramCommand(executable: "/bin/echo", arguments: ["plain", "two words", "", "it's", #"q"uote"#, "$x", "back\\slash"]),
        ProgramCommand(executable: "/path with space/prog"),
    ])
    func commandDescriptionParsesBackToSameWords(_ command: ProgramCommand) throws {
        #expect(try ProgramCommand(parsing: command.description) == command)
    }

    /// Found by fuzzing: the splitter read Characters, so a blank or quote followed by a combining
    /// mark (one grapheme cluster) was neither blank nor quote. sh sees bytes; so does wsgate now.
    @Test func commandSplitsAtBlanksAndQuotesFollowedByCombiningMarks() throws {
        #expect(try ProgramCommand(parsing: "prog \u{301}x") == ProgramCommand(executable: "prog", arguments: ["\u{301}x"]))
        #expect(try ProgramCommand(parsing: "prog '\u{301}'") == ProgramCommand(executable: "prog", arguments: ["\u{301}"]))
        #expect(try ProgramCommand(parsing: "a\r\nb") == ProgramCommand(executable: "a\r", arguments: ["b"]))
        for words in [["\u{301}'"], ["\u{1F}\"\u{061A}"], ["'\u{301}x"]] {
            let command = ProgramCommand(executable: "p", arguments: words)
            #expect(try ProgramCommand(parsing: command.description) == command)
        }
    }

    @Test func commandDescriptionLeavesPlainWordsBare() {
        #expect(ProgramCommand(executable: "./count", arguments: ["--to", "2"]).description == "./count --to 2")
    }
}

@Suite("LineSplitter: stdout bytes to lines")
struct LineSplitterTests {
    /// Feeds `chunks` and then ends the stream; returns every line as a string.
    static func lines(_ chunks: [String], max: Int = 1 << 20) -> [String] {
        var splitter = LineSplitter(maxLineLength: max)
        var lines: [String] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                splitter.feed(bytes) { lines.append(String(decoding: $0, as: UTF8.self)) }
            }
        }
        splitter.finish { lines.append(String(decoding: $0, as: UTF8.self)) }
        return lines
    }

    @Test func splitterCutsAtNewlines() {
        #expect(Self.lines(["a\nbb\n\nccc\n"]) == ["a", "bb", "", "ccc"])
    }

    @Test func splitterJoinsLineAcrossChunks() {
        #expect(Self.lines(["he", "ll", "o\nwor", "ld\n"]) == ["hello", "world"])
    }

    @Test func splitterGivesSameLinesWhateverTheChunking() {
        let text = "one\r\ntwo\n\nthree four\rfive\nlast"
        let whole = Self.lines([text])
        #expect(whole == ["one", "two", "", "three four\rfive", "last"])
        #expect(Self.lines(text.map { String($0) }) == whole)
        #expect(Self.lines(["one\r", "\ntwo\n\nthree four\r", "five\nla", "st"]) == whole)
    }

    @Test func splitterDropsOnlyCarriageReturnBeforeNewline() {
        #expect(Self.lines(["a\r\n", "\r\n", "b\r", "\n", "c\r"]) == ["a", "", "b", "c\r"])
    }

    @Test func splitterDeliversLastLineWithoutNewlineAtFinish() {
        #expect(Self.lines(["x\ny"]) == ["x", "y"])
        #expect(Self.lines(["x\n"]) == ["x"])
        #expect(Self.lines([]) == [])
    }

    @Test func splitterCutsLongLineIntoPiecesOfMaxLength() {
        #expect(Self.lines([String(repeating: "a", count: 10) + "\n"], max: 4) == ["aaaa", "aaaa", "aa"])
        #expect(Self.lines(["aaa", "aaa", "aaa\nb\n"], max: 4) == ["aaaa", "aaaa", "a", "b"])
        #expect(Self.lines(["aaaa\n"], max: 4) == ["aaaa"])
        #expect(Self.lines(["aaaaa"], max: 4) == ["aaaa", "a"])
    }

    @Test func splitterHoldsNoMoreThanMaxLength() {
        var splitter = LineSplitter(maxLineLength: 100)
        var count = 0
        let chunk = [UInt8](repeating: 0x61, count: 37)
        for _ in 0..<100 {
            chunk.withUnsafeBytes { splitter.feed($0) { _ in count += 1 } }
            #expect(splitter.pendingCount <= 100)
        }
        // A full-length piece goes out once the next byte shows it is not followed by a newline.
        #expect(count == 36)
        #expect(splitter.pendingCount == 100)
    }

    /// Every line or piece that `bytes` comes out as, fed `chunk` bytes at a time, then ended.
    static func pieces(_ bytes: [UInt8], max: Int, chunk: Int) -> [[UInt8]] {
        var splitter = LineSplitter(maxLineLength: max)
        var pieces: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            Array(bytes[start..<end]).withUnsafeBytes { splitter.feed($0) { pieces.append(Array($0)) } }
            start = end
        }
        splitter.finish { pieces.append(Array($0)) }
        return pieces
    }

    /// A line of `€` (3 bytes each) at limits that are not multiples of 3: every piece is whole
    /// characters, as many as fit, and the pieces together are the line, however it was read.
    @Test(arguments: [4, 5, 7, 8, 100, 1001])
    func splitterCutsLongLineBetweenCharacters(max: Int) {
        let line = Array(String(repeating: "€", count: 1000).utf8)
        for chunk in [line.count + 1, 1, 7, 4096] {
            let pieces = Self.pieces(line + [0x0A], max: max, chunk: chunk)
            #expect(pieces.allSatisfy { UTF8Validator.isValid($0) && !$0.isEmpty && $0.count <= max }, "chunk \(chunk)")
            #expect(Array(pieces.joined()) == line, "chunk \(chunk)")
            #expect(pieces.count == (1000 + max / 3 - 1) / (max / 3), "chunk \(chunk)")
        }
    }

    /// Characters of every width, cut at every small limit: the same pieces whatever the chunking,
    /// each valid and within the limit, and nothing lost.
    @Test(arguments: Array(4...13))
    func splitterPiecesDoNotDependOnChunking(max: Int) {
        let line = Array(String(repeating: "a¢€😀", count: 40).utf8)
        let whole = Self.pieces(line, max: max, chunk: line.count)
        #expect(whole.allSatisfy { UTF8Validator.isValid($0) && !$0.isEmpty && $0.count <= max })
        #expect(Array(whole.joined()) == line)
        for chunk in [1, 2, 3, 5, 64] {
            #expect(Self.pieces(line, max: max, chunk: chunk) == whole, "chunk \(chunk)")
        }
    }

    /// Random bytes, valid or not, with newlines: the cuts fall in the same places whatever the
    /// chunking, no piece is over the limit, and nothing but the newlines is lost.
    @Test(arguments: [1, 2, 3, 4, 5, 17])
    func splitterIsChunkingInvariantOnAnyBytes(max: Int) {
        var generator = SplitMix(seed: UInt64(max))
        let alphabet: [[UInt8]] = [[0x61], [0x0A], [0xC2, 0xA2], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80],
                                   [0xE2], [0xE2, 0x82], [0xF0, 0x9F], [0xFF], [0x80], [0xE0, 0x80], [0xED, 0xA0, 0x80]]
        let bytes = (0..<400).flatMap { _ in alphabet.randomElement(using: &generator)! }
        let whole = Self.pieces(bytes, max: max, chunk: bytes.count)
        #expect(whole.allSatisfy { $0.count <= max })
        #expect(Array(whole.joined()) == bytes.filter { $0 != 0x0A })
        for chunk in [1, 2, 3, 7] {
            #expect(Self.pieces(bytes, max: max, chunk: chunk) == whole, "chunk \(chunk)")
        }
    }

    /// A cut after bytes that cannot start a valid character is not moved: they are not a character.
    @Test func splitterCutsAtTheLimitAfterImpossibleBytes() {
        #expect(Self.pieces([0x61, 0x61, 0xE0, 0x80, 0x80, 0x61], max: 4, chunk: 1)
            == [[0x61, 0x61, 0xE0, 0x80], [0x80, 0x61]])
        #expect(Self.pieces([0x61, 0x61, 0x61, 0xF5, 0x61], max: 4, chunk: 6) == [[0x61, 0x61, 0x61, 0xF5], [0x61]])
        // A character unfinished at the end of the stream is delivered as it is.
        #expect(Self.pieces([0x61, 0xE2, 0x82], max: 4, chunk: 1) == [[0x61, 0xE2, 0x82]])
    }
}

@Suite("CGIEnvironment: websocketd's variables")
struct CGIEnvironmentTests {
    static func request(_ target: String, headers: [(String, String)] = [("Host", "example.com:8080")],
                        tls: Bool = false) -> CGIEnvironment.Request {
        let head = HTTPHead(startLine: .request(method: "GET", target: target, version: "HTTP/1.1"),
                            headers: headers.map { (name: $0.0, value: $0.1) })
        return CGIEnvironment.Request(head: head, remoteHost: "10.0.0.1", remotePort: 40000, localPort: 8080,
                                      scriptName: "/chat", pathInfo: "/room", uniqueID: "42",
                                      serverSoftware: "wsgate/test",
                                      tls: tls ? .init(subject: nil, verify: "NONE") : nil)
    }

    @Test func environmentHasEveryCGIVariable() {
        let variables = CGIEnvironment(Self.request("/chat/room?a=1"), passing: [:]).variables
        #expect(variables["REMOTE_ADDR"] == "10.0.0.1")
        #expect(variables["REMOTE_HOST"] == "10.0.0.1")
        #expect(variables["REMOTE_PORT"] == "40000")
        #expect(variables["SERVER_NAME"] == "example.com")
        #expect(variables["SERVER_PORT"] == "8080")
        #expect(variables["SERVER_PROTOCOL"] == "HTTP/1.1")
        #expect(variables["SERVER_SOFTWARE"] == "wsgate/test")
        #expect(variables["GATEWAY_INTERFACE"] == "CGI/1.1")
        #expect(variables["REQUEST_METHOD"] == "GET")
        #expect(variables["REQUEST_URI"] == "/chat/room?a=1")
        #expect(variables["SCRIPT_NAME"] == "/chat")
        #expect(variables["PATH_INFO"] == "/room")
        #expect(variables["PATH_TRANSLATED"] == "/chat/room")
        #expect(variables["QUERY_STRING"] == "a=1")
        #expect(variables["UNIQUE_ID"] == "42")
        for name in ["AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_IDENT", "REMOTE_USER"] {
            #expect(variables[name] == "", "\(name)")
        }
        #expect(variables["HTTP_HOST"] == "example.com:8080")
        #expect(variables["HTTPS"] == nil)
    }

    @Test func environmentNamesHeadersLikeCGIAndJoinsRepeats() {
        let headers = [("Host", "h"), ("X-Custom-Thing", "one"), ("x-custom-thing", "two"), ("Accept-Language", " fr ")]
        let variables = CGIEnvironment(Self.request("/", headers: headers), passing: [:]).variables
        #expect(variables["HTTP_X_CUSTOM_THING"] == "one, two")
        #expect(variables["HTTP_ACCEPT_LANGUAGE"] == "fr")
    }

    @Test func environmentReplacesNewlinesInValues() {
        let variables = CGIEnvironment(Self.request("/", headers: [("X-Evil", "a\nB=c\r\nd")]), passing: [:]).variables
        #expect(variables["HTTP_X_EVIL"] == "a B=c  d")
    }

    /// Request variables win over passed-through ones of the same name; others pass unchanged.
    @Test func environmentKeepsPassedVariablesUnlessRequestDefinesThem() {
        let inherited = ["PATH": "/bin", "QUERY_STRING": "from-parent", "REMOTE_USER": "root"]
        let variables = CGIEnvironment(Self.request("/x?q"), passing: inherited).variables
        #expect(variables["PATH"] == "/bin")
        #expect(variables["QUERY_STRING"] == "q")
        #expect(variables["REMOTE_USER"] == "")
    }

    @Test func environmentSetsHTTPSForTLS() {
        let variables = CGIEnvironment(Self.request("/", headers: [("Host", "secure.example")], tls: true), passing: [:]).variables
        #expect(variables["HTTPS"] == "on")
        #expect(variables["SERVER_PORT"] == "443")
    }

    @Test(arguments: [
        ("example.com:8080", false, "example.com", "8080"),
        ("example.com", false, "example.com", "80"),
        ("example.com", true, "example.com", "443"),
        ("[::1]:9000", false, "::1", "9000"),
        ("[::1]", true, "::1", "443"),
        ("", false, "", "7777"),
    ])
    func hostHeaderGivesServerNameAndPort(host: String, tls: Bool, name: String, port: String) {
        let (gotName, gotPort) = CGIEnvironment.hostAndPort(host, tls: tls, fallbackPort: 7777)
        #expect(gotName == name)
        #expect(gotPort == port)
    }

    @Test func environmentUsesOriginFormOfAbsoluteTarget() {
        let variables = CGIEnvironment(Self.request("http://example.com/chat/room?x=1"), passing: [:]).variables
        #expect(variables["REQUEST_URI"] == "/chat/room?x=1")
        #expect(variables["QUERY_STRING"] == "x=1")
        #expect(variables["PATH_TRANSLATED"] == "/chat/room")
    }

    /// httpoxy: programs and their HTTP libraries read HTTP_PROXY as their proxy, so a client's
    /// `Proxy` header must not set it. The operator's own HTTP_PROXY, passed through, still does.
    @Test func environmentDropsProxyHeader() {
        let headers = [("Host", "h"), ("Proxy", "http://evil.example:8080"), ("PROXY", "x")]
        let variables = CGIEnvironment(Self.request("/", headers: headers), passing: [:]).variables
        #expect(variables["HTTP_PROXY"] == nil)
        let passed = CGIEnvironment(Self.request("/", headers: headers),
                                    passing: ["HTTP_PROXY": "http://proxy.internal:3128"]).variables
        #expect(passed["HTTP_PROXY"] == "http://proxy.internal:3128")
    }

    /// `X_Api_Key` would become the same HTTP_X_API_KEY as `X-Api-Key` and could stand in for a
    /// header a proxy in front checked or set: names with anything but letters, digits and `-`
    /// are dropped, whichever comes first.
    @Test(arguments: [
        [("X-Api-Key", "checked"), ("X_Api_Key", "smuggled")],
        [("X_Api_Key", "smuggled"), ("X-Api-Key", "checked")],
    ])
    func environmentDropsHeaderNamesWithUnderscores(_ apiKeys: [(String, String)]) {
        let headers = [("Host", "h")] + apiKeys + [("X.Dotted", "x"), ("X~Tilde", "y")]
        let variables = CGIEnvironment(Self.request("/", headers: headers), passing: [:]).variables
        #expect(variables["HTTP_X_API_KEY"] == "checked")
        #expect(variables.keys.filter { $0.hasPrefix("HTTP_") }.sorted() == ["HTTP_HOST", "HTTP_X_API_KEY"])
    }

    /// --passenv passes the operator's variables, never in place of one wsgate sets itself: HTTPS
    /// from the parent would tell a program on plain HTTP that it is on TLS.
    @Test func environmentNeverLetsPassedVariablesReplaceItsOwn() {
        let inherited = ["HTTPS": "on", "REMOTE_ADDR": "6.6.6.6", "SERVER_SOFTWARE": "fake", "PATH_INFO": "/etc",
                         "GATEWAY_INTERFACE": "x", "UNIQUE_ID": "1", "CONTENT_LENGTH": "9", "KEEP": "kept"]
        let variables = CGIEnvironment(Self.request("/"), passing: inherited).variables
        #expect(variables["HTTPS"] == nil)
        #expect(variables["REMOTE_ADDR"] == "10.0.0.1")
        #expect(variables["SERVER_SOFTWARE"] == "wsgate/test")
        #expect(variables["PATH_INFO"] == "/room")
        #expect(variables["GATEWAY_INTERFACE"] == "CGI/1.1")
        #expect(variables["UNIQUE_ID"] == "42")
        #expect(variables["CONTENT_LENGTH"] == "")
        #expect(variables["KEEP"] == "kept")
    }

    /// websocketd's --passenv: an empty variable is not passed, a value has each CR and LF turned
    /// into a space and surrounding white space trimmed, and one left empty by that is not passed.
    @Test func environmentCleansPassedVariablesAsWebsocketdDoes() {
        let inherited = ["EMPTY": "", "BLANK": " \r\n\t", "PADDED": " \u{0B}value\u{A0} ",
                         "LINES": "one\ntwo\r\nthree\n", "PLAIN": "a  b"]
        let variables = CGIEnvironment(Self.request("/"), passing: inherited).variables
        #expect(variables["EMPTY"] == nil)
        #expect(variables["BLANK"] == nil)
        #expect(variables["PADDED"] == "value")
        #expect(variables["LINES"] == "one two  three")
        #expect(variables["PLAIN"] == "a  b")
    }
}

@Suite("ScriptDirectory: --dir lookups")
struct ScriptDirectoryLookupTests {
    @Test func lookupFindsProgramsAndSplitsPathInfo() throws {
        let scripts = try ScratchScripts()
        try scripts.script("hello", "echo hi")
        try scripts.script("sub/deep", "echo hi")
        try scripts.script("plain", "echo hi", executable: false)
        let root = scripts.path
        #expect(Gateway.ScriptDirectory.lookup("/hello", in: root)
            == .found(file: root + "/hello", scriptName: "/hello", pathInfo: ""))
        #expect(Gateway.ScriptDirectory.lookup("/hello/a/b", in: root)
            == .found(file: root + "/hello", scriptName: "/hello", pathInfo: "/a/b"))
        #expect(Gateway.ScriptDirectory.lookup("/sub/deep/", in: root)
            == .found(file: root + "/sub/deep", scriptName: "/sub/deep", pathInfo: "/"))
        #expect(Gateway.ScriptDirectory.lookup("/plain", in: root) == .notFound("/plain is not an executable program"))
        #expect(Gateway.ScriptDirectory.lookup("/sub", in: root) == .notFound("/sub is a directory"))
        #expect(Gateway.ScriptDirectory.lookup("/sub/", in: root) == .notFound("invalid path"))
        #expect(Gateway.ScriptDirectory.lookup("/nothing", in: root) == .notFound("/nothing not found"))
        #expect(Gateway.ScriptDirectory.lookup("/", in: root) == .notFound("invalid path"))
        #expect(Gateway.ScriptDirectory.lookup("", in: root) == .notFound("no program named"))
    }

    @Test(arguments: ["/..", "/../hello", "/sub/../hello", "/./hello", "//hello", "/sub//deep"])
    func lookupRefusesEscapesAndEmptyParts(_ path: String) throws {
        let scripts = try ScratchScripts()
        try scripts.script("hello", "echo hi")
        try scripts.script("sub/deep", "echo hi")
        #expect(Gateway.ScriptDirectory.lookup(path, in: scripts.path) == .notFound("invalid path"))
    }

    /// A link inside the directory that leads out of it is not served, whether it names a program, a
    /// directory of programs or /bin/sh; a link that stays inside is.
    @Test func lookupRefusesLinksLeadingOutOfTheDirectory() throws {
        let outside = try ScratchScripts()
        try outside.script("prog", "echo outside")
        let scripts = try ScratchScripts()
        try scripts.script("real/prog", "echo inside")
        let root = scripts.path
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: root + "/file", withDestinationPath: outside.path + "/prog")
        try manager.createSymbolicLink(atPath: root + "/dir", withDestinationPath: outside.path)
        try manager.createSymbolicLink(atPath: root + "/sh", withDestinationPath: "/bin/sh")
        try manager.createSymbolicLink(atPath: root + "/up", withDestinationPath: "../" + (outside.path as NSString).lastPathComponent)
        try manager.createSymbolicLink(atPath: root + "/alias", withDestinationPath: "real/prog")
        try manager.createSymbolicLink(atPath: root + "/again", withDestinationPath: root + "/real")
        for path in ["/file", "/dir/prog", "/sh", "/sh/x", "/up/prog", "/dir"] {
            guard case .notFound = Gateway.ScriptDirectory.lookup(path, in: root) else {
                Issue.record("\(path) was served from outside the directory")
                continue
            }
        }
        #expect(Gateway.ScriptDirectory.lookup("/alias/x", in: root)
            == .found(file: root + "/alias", scriptName: "/alias", pathInfo: "/x"))
        #expect(Gateway.ScriptDirectory.lookup("/again/prog", in: root)
            == .found(file: root + "/again/prog", scriptName: "/again/prog", pathInfo: ""))
    }

    /// The directory itself may be reached through a link: only where a program leads matters.
    @Test func lookupServesDirectoryNamedThroughALink() throws {
        let scripts = try ScratchScripts()
        try scripts.script("real/hello", "echo hi")
        let link = scripts.path + "/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scripts.path + "/real")
        #expect(Gateway.ScriptDirectory.lookup("/hello", in: link)
            == .found(file: link + "/hello", scriptName: "/hello", pathInfo: ""))
    }

    /// `..` in PATH_INFO is refused too, spelled out or percent-encoded, so a program that joins
    /// PATH_INFO to a directory of its own cannot be walked out of it.
    @Test(arguments: ["/hello/..", "/hello/../../etc/passwd", "/hello/a/../b", "/hello/%2e%2E/x", "/hello/.%2e",
                      "/hello/a%2f..%2Fb"])
    func lookupRefusesDotDotInPathInfo(_ path: String) throws {
        let scripts = try ScratchScripts()
        try scripts.script("hello", "echo hi")
        #expect(Gateway.ScriptDirectory.lookup(path, in: scripts.path) == .notFound("invalid path"))
    }

    @Test(arguments: ["/hello/a..b", "/hello/.../x", "/hello/./x", "/hello/%2e"])
    func lookupKeepsPathInfoWithoutDotDotSegments(_ path: String) throws {
        let scripts = try ScratchScripts()
        try scripts.script("hello", "echo hi")
        guard case .found(_, "/hello", let pathInfo) = Gateway.ScriptDirectory.lookup(path, in: scripts.path) else {
            Issue.record("\(path) was refused")
            return
        }
        #expect("/hello" + pathInfo == path)
    }
}

@Suite("OriginPolicy: --origin and --sameorigin")
struct OriginPolicyTests {
    static func request(origin: String?, host: String = "example.com:8080") -> HTTPHead {
        var headers = [(name: "Host", value: host)]
        if let origin { headers.append((name: "Origin", value: origin)) }
        return HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"), headers: headers)
    }

    @Test func policyAllowsEverythingWhenUnset() {
        let policy = OriginPolicy(allowed: nil, sameOrigin: false)
        #expect(!policy.isActive)
        #expect(policy.refusal(for: Self.request(origin: nil)) == nil)
        #expect(policy.refusal(for: Self.request(origin: "https://evil.example")) == nil)
    }

    @Test(arguments: [
        ("http://example.com:8080", true),
        ("http://EXAMPLE.com:8080", true),
        ("http://example.com", false),
        ("http://example.com:9090", false),
        ("http://other.com:8080", false),
        ("null", false),
    ])
    func sameOriginComparesHostAndPort(origin: String, allowed: Bool) {
        let policy = OriginPolicy(allowed: nil, sameOrigin: true)
        #expect((policy.refusal(for: Self.request(origin: origin)) == nil) == allowed, "\(origin)")
    }

    @Test(arguments: [
        ("https://app.example.com", true),
        ("http://app.example.com:3000", true),
        ("https://pinned.example:8443", true),
        ("https://pinned.example:443", false),
        ("https://pinned.example", false),
        ("https://only-https.example", true),
        ("http://only-https.example", false),
        ("https://evil.example", false),
    ])
    func allowListMatchesHostPortAndScheme(origin: String, allowed: Bool) {
        let policy = OriginPolicy(allowed: ["app.example.com", "pinned.example:8443", "https://only-https.example"],
                                  sameOrigin: false)
        #expect((policy.refusal(for: Self.request(origin: origin)) == nil) == allowed, "\(origin)")
    }

    @Test func activePolicyRefusesRequestWithoutOrigin() {
        #expect(OriginPolicy(allowed: ["example.com"], sameOrigin: false).refusal(for: Self.request(origin: nil)) != nil)
        #expect(OriginPolicy(allowed: nil, sameOrigin: true).refusal(for: Self.request(origin: nil)) != nil)
    }
}

@Suite("TerminationPlan: websocketd's steps")
struct TerminationPlanTests {
    @Test func planSignalsInterruptTerminateKillWithGraceAdded() {
        let plan = TerminationPlan.standard(closeGrace: .milliseconds(500))
        #expect(plan.steps.map(\.step) == [.signal(.interrupt), .signal(.terminate), .signal(.kill)])
        #expect(plan.steps.map(\.graceBefore) == [.milliseconds(600), .milliseconds(750), .milliseconds(1000)])
    }
}
