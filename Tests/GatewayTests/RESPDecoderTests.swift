import Testing

@testable import Gateway

/// Everything a decoder gives for `bytes` fed in the given pieces: the values, then the error if any.
private func decode(_ pieces: [[UInt8]], limits: RESPLimits = RESPLimits()) -> ([RESPValue], RESPError?) {
    var decoder = RESPDecoder(limits: limits)
    var values: [RESPValue] = []
    for piece in pieces {
        decoder.feed(piece)
        do {
            while let value = try decoder.next() { values.append(value) }
        } catch {
            return (values, error)
        }
    }
    return (values, nil)
}

/// The same input whole, a byte at a time, and cut in two at every point must decode the same.
private func expectSameAtEverySplit(_ bytes: [UInt8], limits: RESPLimits = RESPLimits(),
                                    sourceLocation: SourceLocation = #_sourceLocation) -> ([RESPValue], RESPError?) {
    let whole = decode([bytes], limits: limits)
    let trickle = decode(bytes.map { [$0] }, limits: limits)
    #expect(trickle.0 == whole.0 && trickle.1 == whole.1, "byte at a time", sourceLocation: sourceLocation)
    for point in 0...bytes.count {
        let split = decode([Array(bytes[..<point]), Array(bytes[point...])], limits: limits)
        #expect(split.0 == whole.0 && split.1 == whole.1, "split at \(point)", sourceLocation: sourceLocation)
    }
    return whole
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("RESP2 decoder: every reply type, any chunking")
struct RESPDecoderTests {
    @Test(arguments: [
        ("+OK\r\n", RESPValue.simple("OK")),
        ("-WRONGPASS invalid username-password pair\r\n", .error("WRONGPASS invalid username-password pair")),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(Int64.max)),
        ("$0\r\n\r\n", .bulk([])),
        ("$-1\r\n", .bulk(nil)),
        ("$5\r\nhello\r\n", .bulk(Array("hello".utf8))),
        ("*0\r\n", .array([])),
        ("*-1\r\n", .array(nil)),
        ("*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n",
         .array([.bulk(Array("message".utf8)), .bulk(Array("room".utf8)), .bulk(Array("hi".utf8))])),
        ("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", .array([.bulk(Array("subscribe".utf8)), .bulk([0x61]), .integer(1)])),
        ("*2\r\n*1\r\n:1\r\n*0\r\n", .array([.array([.integer(1)]), .array([])])),
    ])
    func decodesEachTypeAtEverySplit(text: String, expected: RESPValue) {
        let (values, error) = expectSameAtEverySplit(bytes(text))
        #expect(error == nil)
        #expect(values == [expected])
    }

    /// A bulk string is binary-safe: CR, LF, NUL and bytes that are not UTF-8 pass unchanged.
    @Test func bulkIsBinarySafe() {
        let payload: [UInt8] = [0x0D, 0x0A, 0x00, 0xFF, 0x24, 0x0D, 0x0A]
        var encoded: [UInt8] = []
        RESPEncoder.append(.bulk(payload), to: &encoded)
        #expect(expectSameAtEverySplit(encoded).0 == [.bulk(payload)])
    }

    /// Replies pipelined into one read come out one by one, in order.
    @Test func pipelinedRepliesComeOutInOrder() {
        let (values, error) = expectSameAtEverySplit(bytes("+OK\r\n:1\r\n$1\r\nx\r\n-ERR no\r\n"))
        #expect(error == nil)
        #expect(values == [.simple("OK"), .integer(1), .bulk([0x78]), .error("ERR no")])
    }

    @Test(arguments: [
        ("?x\r\n", RESPError.unknownType(0x3F)),
        (":12a\r\n", .badInteger),
        (":\r\n", .badInteger),
        (":99999999999999999999\r\n", .badInteger),
        ("$-2\r\n", .badLength),
        ("$x\r\n", .badLength),
        ("*-5\r\n", .badLength),
        ("$3\r\nabcd\r\n", .badLength),
        ("+OK\rX", .missingLineFeed),
    ])
    func refusesWhatRESP2Forbids(text: String, expected: RESPError) {
        let (values, error) = expectSameAtEverySplit(bytes(text))
        #expect(values.isEmpty)
        #expect(error == expected)
    }

    @Test func enforcesEveryBound() {
        var limits = RESPLimits()
        limits.maxBulkLength = 4
        limits.maxArrayCount = 2
        limits.maxDepth = 2
        limits.maxLineLength = 8
        limits.maxValueBytes = 40
        #expect(expectSameAtEverySplit(bytes("$5\r\nhello\r\n"), limits: limits).1 == .bulkTooLong(5, limit: 4))
        #expect(expectSameAtEverySplit(bytes("$4\r\nhell\r\n"), limits: limits).0 == [.bulk(Array("hell".utf8))])
        #expect(expectSameAtEverySplit(bytes("*3\r\n"), limits: limits).1 == .arrayTooLong(3, limit: 2))
        #expect(expectSameAtEverySplit(bytes("*1\r\n*1\r\n:1\r\n"), limits: limits).0 == [.array([.array([.integer(1)])])])
        #expect(expectSameAtEverySplit(bytes("*1\r\n*1\r\n*1\r\n:1\r\n"), limits: limits).1 == .tooDeep(limit: 2))
        #expect(expectSameAtEverySplit(bytes("+123456789\r\n"), limits: limits).1 == .lineTooLong(limit: 8))
        // Within every other bound, a value too big in all is refused before it is whole.
        let big = "*2\r\n*2\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n*2\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n"
        #expect(expectSameAtEverySplit(bytes(big), limits: limits).1 == .valueTooLong(limit: 40))
    }

    /// A line with no CRLF yet is not an error until it is longer than the bound.
    @Test func incompleteLineWaitsUpToTheBound() {
        var limits = RESPLimits()
        limits.maxLineLength = 8
        #expect(decode([bytes("+1234567")], limits: limits) == ([], nil))
        #expect(decode([bytes("+12345678")], limits: limits) == ([], nil))
        #expect(decode([bytes("+123456789")], limits: limits).1 == .lineTooLong(limit: 8))
    }

    /// After an error the decoder stays failed: the stream cannot be resynchronised.
    @Test func errorIsFinal() {
        var decoder = RESPDecoder()
        decoder.feed(bytes("!\r\n"))
        #expect(throws: RESPError.unknownType(0x21)) { try decoder.next() }
        decoder.feed(bytes("+OK\r\n"))
        #expect(throws: RESPError.unknownType(0x21)) { try decoder.next() }
    }

    /// The decoder does not hold consumed bytes: after a value, nothing is pending.
    @Test func consumedBytesAreReleased() throws {
        var decoder = RESPDecoder()
        decoder.feed(bytes(":1\r\n:2"))
        #expect(try decoder.next() == .integer(1))
        #expect(try decoder.next() == nil)
        #expect(decoder.pendingCount == 2)
    }
}

@Suite("RESP2 encoder")
struct RESPEncoderTests {
    @Test func encodesCommandsAsArraysOfBulkStrings() {
        #expect(RESPEncoder.command("AUTH", "user", "pa ss") == bytes("*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$5\r\npa ss\r\n"))
        var buffer: [UInt8] = []
        RESPEncoder.appendCommand([bytes("PUBLISH"), bytes("c"), [0x00, 0x0D, 0x0A]], to: &buffer)
        #expect(buffer == bytes("*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$3\r\n") + [0x00, 0x0D, 0x0A] + bytes("\r\n"))
    }

    /// Every value comes back as itself through the decoder.
    @Test func roundTripsEveryType() {
        let values: [RESPValue] = [
            .simple("OK"), .error("ERR x"), .integer(-7), .bulk(nil), .bulk([]), .bulk([0, 255]), .array(nil),
            .array([.integer(1), .array([.bulk([1]), .simple("s")])]),
        ]
        var encoded: [UInt8] = []
        for value in values { RESPEncoder.append(value, to: &encoded) }
        #expect(decode([encoded]) == (values, nil))
    }
}
