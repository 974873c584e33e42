/// Validates UTF-8 incrementally, byte sequences split anywhere across calls.
///
/// RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream
/// is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_." The
/// validator fails at the first byte that no valid continuation could follow (Unicode Table 3-7), so a
/// text message is rejected at the impossible byte rather than at its end.
public struct UTF8Validator: Sendable {
    /// What the next byte must be, encoded as the number of continuation bytes still owed plus, for
    /// the four lead bytes with a narrowed second-byte range, that range.
    @usableFromInline
    enum Expectation: UInt8, Sendable {
        case start
        case continuation1, continuation2, continuation3
        case afterE0, afterED, afterF0, afterF4
    }

    @usableFromInline
    var expectation: Expectation = .start
    @usableFromInline
    var consumed = 0

    /// Bytes validated so far, for error reports.
    public var count: Int { self.consumed }

    public init() {}

    /// Whether everything fed so far ends on a character boundary.
    @inlinable
    public var isComplete: Bool { self.expectation == .start }

    /// Feeds `bytes`.
    /// - Returns: nil when all of them can be part of valid UTF-8, or the offset of the first impossible
    ///   byte counted from the first byte ever fed.
    @inlinable
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let end = bytes.count
        var index = 0
        var state = self.expectation
        while index < end {
            if state == .start {
                // ASCII runs are the common case: skip them 32, then eight bytes at a time.
                let highBits = SIMD4<UInt64>(repeating: 0x8080_8080_8080_8080)
                while index + 32 <= end,
                    base.loadUnaligned(fromByteOffset: index, as: SIMD4<UInt64>.self) & highBits == .zero
                {
                    index += 32
                }
                while index + 8 <= end,
                    base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
                {
                    index += 8
                }
                if index == end { break }
            }
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            switch state {
            case .start:
                switch byte {
                case 0x00...0x7F: break
                case 0xC2...0xDF: state = .continuation1
                case 0xE0: state = .afterE0
                case 0xE1...0xEC, 0xEE...0xEF: state = .continuation2
                case 0xED: state = .afterED
                case 0xF0: state = .afterF0
                case 0xF1...0xF3: state = .continuation3
                case 0xF4: state = .afterF4
                default: return self.fail(at: index)
                }
            case .continuation1, .continuation2, .continuation3:
                guard byte & 0xC0 == 0x80 else { return self.fail(at: index) }
                state = Expectation(rawValue: state.rawValue - 1)!
            case .afterE0:
                guard (0xA0...0xBF).contains(byte) else { return self.fail(at: index) }
                state = .continuation1
            case .afterED:
                guard (0x80...0x9F).contains(byte) else { return self.fail(at: index) }
                state = .continuation1
            case .afterF0:
                guard (0x90...0xBF).contains(byte) else { return self.fail(at: index) }
                state = .continuation2
            case .afterF4:
                guard (0x80...0x8F).contains(byte) else { return self.fail(at: index) }
                state = .continuation2
            }
            index += 1
        }
        self.expectation = state
        self.consumed += end
        return nil
    }

    @usableFromInline
    func fail(at index: Int) -> Int { self.consumed + index }

    /// Feeds a byte array; see `feed(_:)`.
    public mutating func feed(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { self.feed($0) }
    }

    /// Whether `bytes` is, as a whole, valid UTF-8.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) == nil && validator.isComplete
    }

    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Self.isValid($0) }
    }
}
