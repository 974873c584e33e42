import Testing
import WebSocket

@testable import Gateway

/// The pure rules of `--staticdir`: path confinement, ranges, conditional requests, media types.
@Suite("RequestPath: a request path made safe to look up below a directory")
struct RequestPathTests {
    @Test(arguments: [
        ("/", [], false), ("/index.html", ["index.html"], false), ("/a/b/", ["a", "b"], true),
        ("/a//b", ["a", "b"], false), ("/caf%C3%A9.txt", ["café.txt"], false), ("/a%20b", ["a b"], false),
        ("/a.b/c..d", ["a.b", "c..d"], false),
    ])
    func pathIsDecodedIntoSegments(raw: String, segments: [String], trailingSlash: Bool) throws {
        let path = try RequestPath.parse(raw).get()
        #expect(path.segments == segments)
        #expect(path.trailingSlash == trailingSlash)
    }

    @Test(arguments: [
        ("/..", 404), ("/a/../b", 404), ("/%2e%2e/etc/passwd", 404), ("/%2E%2e/x", 404), ("/.%2e/x", 404),
        ("/a/./b", 404), ("/.env", 404), ("/.git/config", 404), ("/a/%2e", 404), ("/..%2fetc", 404),
        ("/a%2fb", 404), ("/a%2Fb", 404), ("/a%00b", 400), ("/a%00", 400), ("/a%zz", 400), ("/a%2", 400),
        ("/a%", 400), ("x", 400), ("", 400), ("/%ff", 404),
    ])
    func pathThatCouldLeaveTheDirectoryIsRefused(raw: String, status: Int) {
        guard case .failure(let refusal) = RequestPath.parse(raw) else {
            Issue.record("\(raw) was accepted")
            return
        }
        #expect(refusal.status == status, "\(raw): \(refusal)")
    }

    @Test func decodedPathShowsTheTrailingSlash() throws {
        #expect(try RequestPath.parse("/a/b/").get().decoded == "/a/b/")
        #expect(try RequestPath.parse("/").get().decoded == "/")
        #expect(try RequestPath.parse("/x%41").get().decoded == "/xA")
    }
}

@Suite("ByteRange: RFC 9110 §14 single ranges")
struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-4", ByteRange.partial(first: 0, last: 4)), ("bytes=5-", .partial(first: 5, last: 9)),
        ("bytes=-3", .partial(first: 7, last: 9)), ("bytes=-30", .partial(first: 0, last: 9)),
        ("bytes=8-100", .partial(first: 8, last: 9)), ("bytes=9-9", .partial(first: 9, last: 9)),
        (" Bytes = 1-2 ", .partial(first: 1, last: 2)), ("bytes=0-99999999999999999999999", .partial(first: 0, last: 9)),
    ])
    func satisfiableRangeIsServed(field: String, expected: ByteRange) {
        #expect(ByteRange.parse(field, length: 10) == expected)
    }

    @Test(arguments: ["bytes=10-", "bytes=10-20", "bytes=-0", "bytes=99999999999999999999-", "bytes=10-,20-"])
    func rangeOutsideTheFileIsUnsatisfiable(field: String) {
        #expect(ByteRange.parse(field, length: 10) == .unsatisfiable)
    }

    @Test(arguments: ["items=0-1", "bytes=5-1", "bytes=a-b", "bytes=", "bytes", "bytes=1-2-3", "bytes=--1",
                      "bytes=0-1,2-3", "bytes=0-1,20-"])
    func otherRangeIsIgnoredForTheWholeFile(field: String) {
        #expect(ByteRange.parse(field, length: 10) == .whole)
    }

    @Test func noRangeIsTheWholeFileAndAnEmptyFileHasNoRange() {
        #expect(ByteRange.parse(nil, length: 10) == .whole)
        #expect(ByteRange.parse("bytes=0-", length: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-5", length: 0) == .unsatisfiable)
    }
}

@Suite("Conditional requests: RFC 9110 §13 with size+mtime validators")
struct ConditionalRequestTests {
    // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
    let file = FileValidators(size: 10, modifiedSeconds: 784_111_777, modifiedNanoseconds: 5)

    @Test func entityTagAndDateAreDerivedFromTheFile() {
        #expect(self.file.entityTag == "\"a-ae1b981bc490a05\"")
        #expect(self.file.lastModified == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func ifNoneMatchComparesWeaklyAndWinsOverTheDate() {
        let tag = self.file.entityTag
        #expect(self.file.notModified(ifNoneMatch: tag, ifModifiedSince: nil))
        #expect(self.file.notModified(ifNoneMatch: "W/\(tag)", ifModifiedSince: nil))
        #expect(self.file.notModified(ifNoneMatch: "\"x\", \(tag)", ifModifiedSince: nil))
        #expect(self.file.notModified(ifNoneMatch: "*", ifModifiedSince: nil))
        #expect(!self.file.notModified(ifNoneMatch: "\"other\"", ifModifiedSince: "Sun, 06 Nov 2094 08:49:37 GMT"))
    }

    @Test func ifModifiedSinceCountsWholeSeconds() {
        #expect(self.file.notModified(ifNoneMatch: nil, ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(self.file.notModified(ifNoneMatch: nil, ifModifiedSince: "Sunday, 06-Nov-94 08:49:38 GMT"))
        #expect(self.file.notModified(ifNoneMatch: nil, ifModifiedSince: "Sun Nov  6 08:49:40 1994"))
        #expect(!self.file.notModified(ifNoneMatch: nil, ifModifiedSince: "Sun, 06 Nov 1994 08:49:36 GMT"))
        #expect(!self.file.notModified(ifNoneMatch: nil, ifModifiedSince: "yesterday"))
        #expect(!self.file.notModified(ifNoneMatch: nil, ifModifiedSince: nil))
    }

    @Test func ifRangeNeedsTheStrongTagOrTheExactDate() {
        #expect(self.file.rangeApplies(ifRange: nil))
        #expect(self.file.rangeApplies(ifRange: self.file.entityTag))
        #expect(!self.file.rangeApplies(ifRange: "W/\(self.file.entityTag)"))
        #expect(!self.file.rangeApplies(ifRange: "\"stale\""))
        #expect(self.file.rangeApplies(ifRange: "Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(!self.file.rangeApplies(ifRange: "Sun, 06 Nov 1994 08:49:38 GMT"))
    }

    @Test(arguments: [Int64(0), 784_111_777, 951_782_400, 1_709_251_199, 4_102_444_800, 253_402_300_799])
    func httpDateRoundTrips(seconds: Int64) {
        #expect(HTTPDate.parse(HTTPDate.format(seconds)) == seconds)
    }

    @Test func httpDateFormatsKnownDates() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 UTC") == nil)
        #expect(HTTPDate.parse("Sun, 32 Nov 1994 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 24:00:00 GMT") == nil)
    }
}

@Suite("MediaType: Content-Type from the extension")
struct MediaTypeTests {
    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"), ("app.MJS", "text/javascript; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"), ("s.css", "text/css; charset=utf-8"),
        ("d.json", "application/json"), ("i.svg", "image/svg+xml"), ("p.png", "image/png"),
        ("p.JPG", "image/jpeg"), ("g.gif", "image/gif"), ("w.webp", "image/webp"), ("favicon.ico", "image/x-icon"),
        ("m.wasm", "application/wasm"), ("r.txt", "text/plain; charset=utf-8"), ("f.woff2", "font/woff2"),
        ("a.js.map", "application/json"), ("archive.tar.gz", "application/octet-stream"),
        ("README", "application/octet-stream"), (".html", "application/octet-stream"),
    ])
    func typeComesFromTheTable(name: String, type: String) {
        #expect(MediaType.forFile(named: name) == type)
    }
}
