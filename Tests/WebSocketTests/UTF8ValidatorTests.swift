import Testing
@testable import WebSocket

/// Vectors from Markus Kuhn's UTF-8 decoder stress test, as Autobahn's cases 6.x use them.
@Suite("UTF8Validator (Unicode Table 3-7)")
struct UTF8ValidatorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { self.name }
        init(_ name: String, _ bytes: String) {
            self.name = name
            self.bytes = hex(bytes)
        }
    }

    static let valid: [Vector] = [
        Vector("empty", ""),
        Vector("6.2 kosme", "ce ba e1 bd b9 cf 83 ce bc ce b5"),
        Vector("6.5 first 1-byte", "00"), Vector("first 2-byte", "c2 80"), Vector("first 3-byte", "e0 a0 80"),
        Vector("first 4-byte", "f0 90 80 80"), Vector("last 1-byte", "7f"), Vector("last 2-byte", "df bf"),
        Vector("last 3-byte", "ef bf bf"), Vector("last 4-byte U+10FFFF", "f4 8f bf bf"),
        Vector("U+D7FF", "ed 9f bf"), Vector("U+E000", "ee 80 80"), Vector("U+FFFD", "ef bf bd"),
        Vector("noncharacter U+FFFE", "ef bf be"), Vector("U+10000 after ASCII run", "61 62 63 64 65 66 67 68 69 f0 90 80 80"),
        Vector("ASCII run of 17", "41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50 51"),
    ]

    /// Invalid sequences and the offset of the first byte that no valid continuation could follow.
    static let invalid: [(vector: Vector, offset: Int)] = [
        (Vector("6.3 kosme then U+10FFFF+1", "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64"), 12),
        (Vector("lone continuation 80", "80"), 0), (Vector("lone continuation bf", "bf"), 0),
        (Vector("continuation after ASCII", "61 62 63 64 65 66 67 68 80"), 8),
        (Vector("lonely start c0", "c0 20"), 0), (Vector("lonely start e0", "e0 20"), 1),
        (Vector("lonely start f0", "f0 20"), 1), (Vector("lonely start c2", "c2 20"), 1),
        (Vector("impossible fe", "fe"), 0), (Vector("impossible ff", "ff"), 0),
        (Vector("f5", "f5 80 80 80"), 0), (Vector("5-byte", "f8 88 80 80 80"), 0), (Vector("6-byte", "fc 84 80 80 80 80"), 0),
        (Vector("overlong / 2-byte", "c0 af"), 0), (Vector("overlong / 3-byte", "e0 80 af"), 1),
        (Vector("overlong / 4-byte", "f0 80 80 af"), 1), (Vector("max overlong 2-byte", "c1 bf"), 0),
        (Vector("max overlong 3-byte", "e0 9f bf"), 1), (Vector("max overlong 4-byte", "f0 8f bf bf"), 1),
        (Vector("surrogate U+D800", "ed a0 80"), 1), (Vector("surrogate U+DB7F", "ed ad bf"), 1),
        (Vector("surrogate U+DFFF", "ed bf bf"), 1), (Vector("surrogate pair", "ed a0 80 ed b0 80"), 1),
        (Vector("above U+10FFFF", "f4 90 80 80"), 1), (Vector("missing continuation", "e1 80 41"), 2),
        (Vector("4-byte cut by ASCII", "f1 80 80 41"), 3),
    ]

    static let truncated: [Vector] = [
        Vector("c2", "c2"), Vector("e0 a0", "e0 a0"), Vector("e1", "e1"), Vector("f0 90 80", "f0 90 80"),
        Vector("f4 8f", "f4 8f"), Vector("kosme then ce", "ce ba e1 bd b9 cf 83 ce bc ce b5 ce"),
    ]

    @Test(arguments: valid, Chunking.allCases)
    func acceptsValid(vector: Vector, chunking: Chunking) {
        var validator = UTF8Validator()
        #expect(chunking.split(vector.bytes).allSatisfy { chunk in validator.feed(Array(chunk)) == nil })
        #expect(validator.isComplete && validator.count == vector.bytes.count)
    }

    @Test(arguments: invalid.map(\.vector), Chunking.allCases)
    func rejectsInvalidAtFirstImpossibleByte(vector: Vector, chunking: Chunking) {
        let expected = Self.invalid.first { $0.vector.name == vector.name }!.offset
        var validator = UTF8Validator()
        let failure = chunking.split(vector.bytes).lazy.compactMap { validator.feed(Array($0)) }.first
        #expect(failure == expected)
        #expect(!UTF8Validator.isValid(vector.bytes))
    }

    @Test(arguments: truncated, Chunking.allCases)
    func reportsTruncatedSequenceAsIncomplete(vector: Vector, chunking: Chunking) {
        var validator = UTF8Validator()
        #expect(chunking.split(vector.bytes).allSatisfy { chunk in validator.feed(Array(chunk)) == nil })
        #expect(!validator.isComplete)
        #expect(!UTF8Validator.isValid(vector.bytes))
    }

    @Test func agreesWithStandardLibraryOnEveryTwoByteSequence() {
        for first in 0...255 {
            for second in 0...255 {
                let bytes = [UInt8(first), UInt8(second)]
                let expected = String(validating: bytes, as: UTF8.self) != nil
                #expect(UTF8Validator.isValid(bytes) == expected, "\(bytes)")
            }
        }
    }

    @Test func agreesWithStandardLibraryOnEveryScalar() {
        var bytes: [UInt8] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            UTF8.encode(scalar) { bytes.append($0) }
        }
        #expect(UTF8Validator.isValid(bytes))
    }

    @Test func agreesWithStandardLibraryOnRandomShortStrings() {
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                    0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var generator = SplitMix64(seed: 0x07F8)
        var mismatches: [[UInt8]] = []
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 1...6, using: &generator)).map { _ in interesting.randomElement(using: &generator)! }
            var validator = UTF8Validator()
            let fedByteAtATime = bytes.allSatisfy { validator.feed([$0]) == nil } && validator.isComplete
            let expected = String(validating: bytes, as: UTF8.self) != nil
            if UTF8Validator.isValid(bytes) != expected || fedByteAtATime != expected { mismatches.append(bytes) }
        }
        #expect(mismatches == [])
    }

    @Test func rejectsEveryThreeByteSequenceTheStandardLibraryRejects() {
        var mismatches: [[UInt8]] = []
        for first in UInt8(0xE0)...0xEF {
            for second in UInt8(0x70)...0xC0 {
                for third in UInt8(0x70)...0xC0 {
                    let bytes = [first, second, third]
                    if UTF8Validator.isValid(bytes) != (String(validating: bytes, as: UTF8.self) != nil) {
                        mismatches.append(bytes)
                    }
                }
            }
        }
        #expect(mismatches == [])
    }
}
