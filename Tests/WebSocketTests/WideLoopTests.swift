import Testing

@testable import WebSocket

/// The 32-byte vector loops in masking and UTF-8 validation, against byte-at-a-time references,
/// at every length and alignment around their boundaries.
@Suite("Wide loops: masking and the UTF-8 ASCII skip")
struct WideLoopTests {
    static let key = MaskingKey(0x37, 0xFA, 0x21, 0x3D)

    @Test(arguments: 0...100)
    func maskingMatchesByteAtATimeForEveryLengthAndKeyOffset(length: Int) {
        let original = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let keyBytes = [Self.key.bytes.0, Self.key.bytes.1, Self.key.bytes.2, Self.key.bytes.3]
        for offset in 0..<4 {
            var bytes = original
            let next = bytes.withUnsafeMutableBytes { applyMask(Self.key, to: $0, offset: offset) }
            let expected = original.enumerated().map { $0.element ^ keyBytes[($0.offset + offset) % 4] }
            #expect(bytes == expected, "length \(length), key offset \(offset)")
            #expect(next == (offset + length) % 4)
        }
    }

    /// The copying form, into a destination at another alignment, and through `UnmaskedBytes` both
    /// ways an array may fill itself from it (the one-pass hook and plain iteration).
    @Test(arguments: 0...100)
    func copyingMaskMatchesByteAtATimeForEveryLengthAndKeyOffset(length: Int) {
        let original = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let keyBytes = [Self.key.bytes.0, Self.key.bytes.1, Self.key.bytes.2, Self.key.bytes.3]
        for offset in 0..<4 {
            let expected = original.enumerated().map { $0.element ^ keyBytes[($0.offset + offset) % 4] }
            var destination = [UInt8](repeating: 0xAA, count: length + 3)
            let next = original.withUnsafeBytes { source in
                destination.withUnsafeMutableBytes { whole in
                    copyApplyingMask(Self.key, from: source, to: UnsafeMutableRawBufferPointer(rebasing: whole[3...]),
                                     offset: offset)
                }
            }
            #expect(Array(destination[3...]) == expected, "length \(length), key offset \(offset)")
            #expect(destination[0..<3] == [0xAA, 0xAA, 0xAA])
            #expect(next == (offset + length) % 4)
            original.withUnsafeBytes { source in
                var appended: [UInt8] = [1, 2]
                appended.append(contentsOf: UnmaskedBytes(source: source, key: Self.key, offset: offset))
                #expect(appended == [1, 2] + expected)
                var iterated: [UInt8] = []
                var iterator = UnmaskedBytes(source: source, key: Self.key, offset: offset).makeIterator()
                while let byte = iterator.next() { iterated.append(byte) }
                #expect(iterated == expected)
            }
        }
    }

    @Test(arguments: [0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 95, 96, 97])
    func validatorFindsAnInvalidByteAfterAnyASCIIRun(asciiLength: Int) {
        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: asciiLength)
        bytes.append(0xFF)
        bytes.append(contentsOf: [UInt8](repeating: UInt8(ascii: "b"), count: 40))
        var validator = UTF8Validator()
        #expect(validator.feed(bytes) == asciiLength)
    }

    @Test(arguments: [0, 1, 31, 32, 33, 64])
    func validatorAcceptsMultibyteCharactersAfterAnyASCIIRun(asciiLength: Int) {
        let text = String(repeating: "a", count: asciiLength) + "é€😀" + String(repeating: "z", count: 70)
        #expect(UTF8Validator.isValid(Array(text.utf8)))
        let truncated = Array(text.utf8.prefix(asciiLength + 2 + 3 + 3))  // cut inside the emoji
        var validator = UTF8Validator()
        #expect(validator.feed(truncated) == nil && !validator.isComplete)
    }
}
