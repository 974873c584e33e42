import Testing
import WebSocket

@testable import Gateway

@Suite("CGIResponseHead: RFC 3875 §6 header blocks")
struct CGIResponseHeadTests {
    func parse(_ text: String, chunked: Bool = false) throws -> (CGIResponseHead, String)? {
        var parser = CGIResponseHead.Parser(maxSize: 256)
        let bytes = Array(text.utf8)
        if chunked {
            for (index, byte) in bytes.enumerated() {
                if let (head, rest) = try parser.feed([byte]) {
                    return (head, String(decoding: rest + bytes[(index + 1)...], as: UTF8.self))
                }
            }
            return nil
        }
        return try parser.feed(bytes).map { ($0.head, String(decoding: $0.rest, as: UTF8.self)) }
    }

    @Test(arguments: [false, true])
    func documentResponseKeepsItsFieldsAndBody(chunked: Bool) throws {
        let (head, rest) = try #require(try self.parse("Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody\n", chunked: chunked))
        #expect(head.status == 200)
        #expect(head.headers.map(\.name) == ["Content-Type", "X-A"])
        #expect(head.contentLength == nil)
        #expect(rest == "body\n")
    }

    @Test func statusLengthAndBareLineFeedsAreUnderstood() throws {
        let (head, rest) = try #require(try self.parse("Status: 404 Not Here\nContent-Type: text/html\nContent-Length: 3\n\nabc"))
        #expect(head.status == 404 && head.reason == "Not Here" && head.contentLength == 3)
        #expect(head.headers.map(\.name) == ["Content-Type"])
        #expect(rest == "abc")
    }

    @Test func locationWithoutStatusIsA302() throws {
        #expect(try self.parse("Location: /other\r\n\r\n")?.0.status == 302)
        #expect(try self.parse("Location: https://example.com/\r\n\r\n")?.0.status == 302)
        #expect(try self.parse("Status: 301\r\nLocation: /x\r\n\r\n")?.0.status == 301)
    }

    @Test func hopByHopFieldsAreDropped() throws {
        let head = try #require(try self.parse("Content-Type: a/b\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n")).0
        #expect(head.headers.map(\.name) == ["Content-Type"])
    }

    @Test func incompleteBlockWaits() throws {
        #expect(try self.parse("Content-Type: text/plain\r\n") == nil)
    }

    @Test(arguments: [
        "no colon here\r\n\r\n", "Content-Type: a/b\r\nBad Name: x\r\n\r\n", "X-Only: 1\r\n\r\n",
        "Status: 20\r\nContent-Type: a/b\r\n\r\n", "Status: 999\r\nContent-Type: a/b\r\n\r\n",
        "Status: abc\r\nContent-Type: a/b\r\n\r\n", "Content-Type: a/b\r\nContent-Length: -1\r\n\r\n",
        "\r\nbody", "Location:\r\n\r\n", "Status: 200\r\nStatus: 200\r\nContent-Type: a/b\r\n\r\n",
        "Content-Type: a\u{1}b\r\n\r\n",
    ])
    func malformedBlockIsRefused(text: String) {
        #expect(throws: CGIResponseHead.Malformed.self) { try self.parse(text) }
    }

    @Test func blockLargerThanTheBoundIsRefused() {
        #expect(throws: CGIResponseHead.Malformed.self) { try self.parse("X-Pad: " + String(repeating: "p", count: 300)) }
    }

    @Test func bodilessStatusNeedsNoContentType() throws {
        let head = try #require(try self.parse("Status: 204 No Content\r\n\r\n")).0
        #expect(head.status == 204 && head.contentLength == 0)
    }
}
