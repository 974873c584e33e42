import Testing
import WebSocket

@testable import Gateway

private func encoded(_ event: SharedEvent, _ encoding: SharedEncoding) -> String {
    var bytes: [UInt8] = []
    encoding.encode(event, into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

private func parsed(_ line: String, _ encoding: SharedEncoding) throws(SharedProtocolError) -> SharedCommand {
    let bytes = Array(line.utf8)
    let result = bytes.withUnsafeBytes { raw in Result { () throws(SharedProtocolError) in try encoding.parse(raw) } }
    return try result.get()
}

@Suite("Shared line protocol: wsgate → program")
struct SharedLineEventTests {
    @Test func encodesOpenWithURIAndPeer() {
        let event = SharedEvent.open(id: 7, requestURI: "/chat/a?x=1", path: "/chat/a", remote: "127.0.0.1:5000", environment: ["A": "b"])
        #expect(encoded(event, .lines) == "open 7 /chat/a?x=1 127.0.0.1:5000\n")
    }

    @Test(arguments: [
        ("hello", "msg 3 hello\n"),
        ("", "msg 3 \n"),
        ("a\\b", "msg 3 a\\\\b\n"),
        ("two\nlines", "msg 3 two\\nlines\n"),
        ("cr\r\n", "msg 3 cr\\r\\n\n"),
        ("\\n is not a newline", "msg 3 \\\\n is not a newline\n"),
        ("tab\tand ünïcødé stay", "msg 3 tab\tand ünïcødé stay\n"),
    ])
    func escapesBackslashNewlineAndCarriageReturnOnly(text: String, line: String) {
        #expect(encoded(.message(id: 3, .text(text)), .lines) == line)
    }

    @Test func encodesBinaryAsBase64() {
        #expect(encoded(.message(id: 4, .binary([0, 1, 2, 0xFF])), .lines) == "bin 4 AAEC/w==\n")
        #expect(encoded(.message(id: 4, .binary([])), .lines) == "bin 4 \n")
    }

    @Test func encodesClose() {
        #expect(encoded(.close(id: 9, code: 1006), .lines) == "close 9 1006\n")
    }
}

@Suite("Shared line protocol: program → wsgate")
struct SharedLineCommandTests {
    @Test func parsesSendToOneAndToAList() throws {
        #expect(try parsed("send 3 hello world", .lines) == .send(to: [3], .text("hello world")))
        #expect(try parsed("send 3,5,9 hi", .lines) == .send(to: [3, 5, 9], .text("hi")))
    }

    @Test func keepsSpacesOfTheText() throws {
        #expect(try parsed("send 3   spaced  ", .lines) == .send(to: [3], .text("  spaced  ")))
        #expect(try parsed("send 3", .lines) == .send(to: [3], .text("")))
    }

    @Test(arguments: [
        ("a\\\\b", "a\\b"), ("two\\nlines", "two\nlines"), ("cr\\r", "cr\r"),
        ("\\t stays", "\\t stays"), ("trailing \\", "trailing \\"), ("\\\\n", "\\n"),
    ])
    func unescapesBackslashNewlineAndCarriageReturn(escaped: String, text: String) throws {
        #expect(try parsed("all \(escaped)", .lines) == .all(.text(text)))
    }

    @Test func roundTripsEveryTextThroughEscaping() throws {
        for text in ["", "plain", "\\", "\n", "\r\n", "\\n", "a\\\\\nb\r", "ü\n€"] {
            var line: [UInt8] = Array("all ".utf8)
            SharedLineProtocol.appendEscaped(text, to: &line)
            #expect(!line.contains(0x0A) && !line.contains(0x0D))
            #expect(try parsed(String(decoding: line, as: UTF8.self), .lines) == .all(.text(text)))
        }
    }

    @Test func parsesBinaryOthersAndClose() throws {
        #expect(try parsed("bin 2,4 AAEC/w==", .lines) == .send(to: [2, 4], .binary([0, 1, 2, 0xFF])))
        #expect(try parsed("others 2 hi there", .lines) == .others(except: [2], .text("hi there")))
        #expect(try parsed("close 5,6 4000 bye now", .lines) == .close(ids: [5, 6], code: CloseCode(4000), reason: "bye now"))
        #expect(try parsed("close 5 1000", .lines) == .close(ids: [5], code: .normalClosure, reason: ""))
        #expect(try parsed("close 5 1012", .lines) == .close(ids: [5], code: .serviceRestart, reason: ""))
    }

    @Test(arguments: [
        "", "hello 3 x", "SEND 3 x", "send", "send x hi", "send 3,,4 hi", "send ,3 hi", "send 0 hi", "send -1 hi",
        "send 99999999999999999999 hi", "bin 3 not-base64!", "bin 3 AAE", "close 3", "close 3 abc", "close 3 1005",
        "close 3 1006", "close 3 1015", "close 3 999", "close 3 5000", "close 3 2000",
    ])
    func refusesMalformedLine(line: String) {
        #expect(throws: SharedProtocolError.self) { try parsed(line, .lines) }
    }

    @Test func replacesInvalidUTF8InText() throws {
        let bytes: [UInt8] = Array("send 1 a".utf8) + [0xFF] + Array("b".utf8)
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SharedProtocolError) in try SharedEncoding.lines.parse(raw) } }
        #expect(try result.get() == .send(to: [1], .text("a\u{FFFD}b")))
    }
}

@Suite("Shared JSON protocol")
struct SharedJSONProtocolTests {
    @Test func encodesOpenWithSortedEnvironment() {
        let event = SharedEvent.open(id: 7, requestURI: "/c/a?x=\"1\"", path: "/c/a", remote: "[::1]:5000",
                                     environment: ["REMOTE_ADDR": "::1", "A": "line\nbreak"])
        #expect(encoded(event, .json)
            == #"{"event":"open","id":7,"path":"/c/a","uri":"/c/a?x=\"1\"","remote":"[::1]:5000","env":{"A":"line\nbreak","REMOTE_ADDR":"::1"}}"# + "\n")
    }

    @Test func encodesMessagesAndCloseAsOneLineEach() {
        #expect(encoded(.message(id: 1, .text("a\"b\\c\n\u{1}ü")), .json) == #"{"event":"msg","id":1,"text":"a\"b\\c\n\u0001ü"}"# + "\n")
        #expect(encoded(.message(id: 1, .binary([0xFF])), .json) == #"{"event":"bin","id":1,"data":"/w=="}"# + "\n")
        #expect(encoded(.close(id: 1, code: 1000), .json) == #"{"event":"close","id":1,"code":1000}"# + "\n")
    }

    @Test func eventsAreValidJSON() throws {
        for text in ["", "\u{0}\u{1F}\u{7F}", "\"\\/", "😀", "\u{2028}"] {
            var bytes: [UInt8] = []
            SharedJSONProtocol.encode(.message(id: 2, .text(text)), into: &bytes)
            #expect(bytes.last == 0x0A && bytes.dropLast().allSatisfy { $0 != 0x0A })
            let value = try JSONValue.parse(String(decoding: bytes.dropLast(), as: UTF8.self))
            #expect(value["text"] == .string(text))
            #expect(value["id"]?.intValue == 2)
        }
    }

    @Test func parsesEveryCommand() throws {
        #expect(try parsed(#"{"cmd":"send","to":[7,9],"text":"hi"}"#, .json) == .send(to: [7, 9], .text("hi")))
        #expect(try parsed(#"{"cmd":"send","to":7,"data":"AAE="}"#, .json) == .send(to: [7], .binary([0, 1])))
        #expect(try parsed(#" {"text":"x\ny","cmd":"all"} "#, .json) == .all(.text("x\ny")))
        #expect(try parsed(#"{"cmd":"others","except":7,"text":"hi"}"#, .json) == .others(except: [7], .text("hi")))
        #expect(try parsed(#"{"cmd":"close","to":[7],"code":4001,"reason":"bye"}"#, .json)
            == .close(ids: [7], code: CloseCode(4001), reason: "bye"))
        #expect(try parsed(#"{"cmd":"close","to":7,"code":1000}"#, .json) == .close(ids: [7], code: .normalClosure, reason: ""))
    }

    @Test(arguments: [
        "", "not json", "[]", "\"send\"", #"{"cmd":"send"}"#, #"{"to":[1],"text":"x"}"#, #"{"cmd":"nope","to":1,"text":"x"}"#,
        #"{"cmd":"send","to":[],"text":"x"}"#, #"{"cmd":"send","to":[0],"text":"x"}"#, #"{"cmd":"send","to":1.5,"text":"x"}"#,
        #"{"cmd":"send","to":"1","text":"x"}"#, #"{"cmd":"send","to":1}"#, #"{"cmd":"send","to":1,"text":5}"#,
        #"{"cmd":"send","to":1,"data":"!!"}"#, #"{"cmd":"close","to":1}"#, #"{"cmd":"close","to":1,"code":1006}"#,
        #"{"cmd":"close","to":1,"code":1000,"reason":7}"#, #"{"cmd":"all","text":"x"} trailing"#,
    ])
    func refusesMalformedCommand(line: String) {
        #expect(throws: SharedProtocolError.self) { try parsed(line, .json) }
    }
}

@Suite("JSON values (RFC 8259)")
struct JSONValueTests {
    @Test func parsesEveryKind() throws {
        let value = try JSONValue.parse(#" { "a" : [1, -2.5e3, true, false, null, "x"], "b": {}, "c": [] } "#)
        #expect(value == .object([
            "a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("x")]),
            "b": .object([:]), "c": .array([]),
        ]))
    }

    @Test func resolvesEscapesAndSurrogatePairs() throws {
        #expect(try JSONValue.parse(#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == .string("\"\\/\u{8}\u{C}\n\r\té😀"))
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
        "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"", "\"a\u{1}b\"", "[1] [2]", "NaN", "1e400",
    ])
    func refusesInvalidText(text: String) {
        #expect(throws: JSONValue.Invalid.self) { try JSONValue.parse(text) }
    }

    @Test func refusesInvalidUTF8InAString() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        let result = bytes.withUnsafeBytes { raw in Result { () throws(JSONValue.Invalid) in try JSONValue.parse(raw) } }
        #expect(throws: JSONValue.Invalid.self) { try result.get() }
    }

    @Test func boundsNesting() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.Invalid.self) { try JSONValue.parse(deep) }
        let fine = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try JSONValue.parse(fine) != .null)
    }

    @Test func integersAreExactOnlyWhenIntegral() throws {
        #expect(try JSONValue.parse("42").intValue == 42)
        #expect(try JSONValue.parse("4.2").intValue == nil)
        #expect(try JSONValue.parse("1e2").intValue == 100)
        #expect(try JSONValue.parse("1e300").intValue == nil)
    }
}

@Suite("LineSplitter: discarding over-long lines")
struct LineSplitterDiscardTests {
    private func lines(_ chunks: [String], max: Int) -> ([String], Int) {
        var splitter = LineSplitter(maxLineLength: max, discardsLongLines: true)
        var result: [String] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                splitter.feed(bytes) { result.append(String(decoding: $0, as: UTF8.self)) }
            }
        }
        splitter.finish { result.append(String(decoding: $0, as: UTF8.self)) }
        return (result, splitter.discardedLines)
    }

    @Test func dropsTheWholeLongLineAndKeepsTheNext() {
        #expect(lines(["short\n0123456789abc\nnext\n"], max: 8) == (["short", "next"], 1))
    }

    @Test func dropsALongLineSpreadOverManyChunks() {
        let chunks = ["ok\n012", "3456", "789", "abcdef", "\nnext\n"]
        #expect(lines(chunks, max: 8) == (["ok", "next"], 1))
        #expect(lines(["0123456789abc\n"].flatMap { $0.map(String.init) }, max: 8) == ([], 1))
    }

    @Test func keepsALineOfExactlyTheLimit() {
        #expect(lines(["12345678\n"], max: 8) == (["12345678"], 0))
        #expect(lines(["1234", "5678\n"], max: 8) == (["12345678"], 0))
    }
}
