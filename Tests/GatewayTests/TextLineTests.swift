import Testing
import WebSocket

@testable import Gateway

@Suite("TextLine: program output as text messages within the limit")
struct TextLineTests {
    static let fffd: [UInt8] = [0xEF, 0xBF, 0xBD]

    @Test func validLineWithinLimitIsPassedOnAsItIs() {
        #expect(TextLine.pieces(of: Array("héllo €".utf8), limit: 10) == [Array("héllo €".utf8)])
        #expect(TextLine.pieces(of: [], limit: 1) == [[]])
    }

    /// A valid line over the limit is cut between characters, as many whole characters a piece as fit.
    @Test(arguments: [(4, ["€", "€", "€"]), (5, ["€", "€", "€"]), (7, ["€€", "€"]), (8, ["€€", "€"]), (9, ["€€€"])])
    func validLineOverLimitIsCutBetweenCharacters(limit: Int, pieces: [String]) {
        #expect(TextLine.pieces(of: Array("€€€".utf8), limit: limit) == pieces.map { Array($0.utf8) })
    }

    /// Each invalid byte becomes three: a line of `limit` such bytes needs three pieces, none over it.
    @Test(arguments: [3, 10, 1000, 1 << 16])
    func replacementNeverMakesAPieceExceedTheLimit(limit: Int) {
        let pieces = TextLine.pieces(of: [UInt8](repeating: 0xFF, count: limit), limit: limit)
        #expect(pieces.allSatisfy { $0.count <= limit && UTF8Validator.isValid($0) })
        #expect(Array(pieces.joined()) == Array([[UInt8]](repeating: Self.fffd, count: limit).joined()))
        #expect(pieces.count == (3 * limit + (limit / 3 * 3) - 1) / (limit / 3 * 3))
    }

    /// Invalid bytes just at the limit: the replacement goes to the next piece rather than over.
    @Test func invalidByteAtTheLimitStartsTheNextPiece() {
        #expect(TextLine.pieces(of: [0x61, 0x62, 0xFF, 0x63], limit: 4) == [[0x61, 0x62], Self.fffd + [0x63]])
        #expect(TextLine.pieces(of: [0x61, 0xFF, 0x62, 0x63, 0xC3], limit: 4) == [[0x61] + Self.fffd, [0x62, 0x63], Self.fffd])
        // A truncated character is one maximal invalid subsequence: one U+FFFD, not three.
        #expect(TextLine.pieces(of: [0xE2, 0x82, 0x61], limit: 4) == [Self.fffd + [0x61]])
        #expect(TextLine.pieces(of: [0xED, 0xA0, 0x80], limit: 9) == [Self.fffd + Self.fffd + Self.fffd])
    }

    /// Under 4 bytes not every character fits: what cannot is replaced, and no piece is over the limit.
    @Test func tinyLimitsReplaceWhatCannotFit() {
        #expect(TextLine.pieces(of: Array("a😀b".utf8), limit: 3) == [[0x61], Self.fffd, [0x62]])
        #expect(TextLine.pieces(of: Array("a€".utf8), limit: 2) == [[0x61, 0x3F]])
        #expect(TextLine.pieces(of: [0xFF, 0x61], limit: 1) == [[0x3F], [0x61]])
    }

    /// Random bytes at random limits: valid pieces within the limit that together are exactly what
    /// `String(decoding:as:)` makes of the line.
    @Test(arguments: [4, 5, 6, 7, 13, 64])
    func piecesTogetherAreTheRepairedLine(limit: Int) {
        var generator = SplitMix(seed: UInt64(limit))
        let alphabet: [[UInt8]] = [[0x61], [0xC2, 0xA2], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xE2],
                                   [0xE2, 0x82], [0xF0, 0x9F], [0xFF], [0x80], [0xE0, 0x80], [0xED, 0xA0, 0x80], [0xC0, 0xAF]]
        for _ in 0..<50 {
            let line = (0..<Int.random(in: 0...60, using: &generator)).flatMap { _ in
                alphabet.randomElement(using: &generator)!
            }
            let pieces = TextLine.pieces(of: line, limit: limit)
            #expect(pieces.allSatisfy { $0.count <= limit && UTF8Validator.isValid($0) }, "\(line)")
            #expect(Array(pieces.joined()) == Array(String(decoding: line, as: UTF8.self).utf8), "\(line)")
            #expect(pieces.dropLast().allSatisfy { !$0.isEmpty })
        }
    }

    /// The whole path of a long line of output: the splitter's pieces, then the repair, give messages
    /// of valid UTF-8 within the limit, whatever the bytes and however they were read.
    @Test(arguments: [4, 7, 100])
    func splitterThenRepairKeepsEveryMessageWithinTheLimit(limit: Int) {
        var generator = SplitMix(seed: 99)
        let alphabet: [[UInt8]] = [[0x61], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xFF], [0xE2, 0x82]]
        let line = (0..<2000).flatMap { _ in alphabet.randomElement(using: &generator)! }
        var messages: [[UInt8]] = []
        for piece in LineSplitterTests.pieces(line + [0x0A], max: limit, chunk: 1) {
            messages += TextLine.pieces(of: piece, limit: limit)
        }
        #expect(messages.allSatisfy { $0.count <= limit && UTF8Validator.isValid($0) })
        #expect(!messages.isEmpty)
    }
}
