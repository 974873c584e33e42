/// The four-byte masking key a client applies to every frame it sends (RFC 6455 §5.3).
public struct MaskingKey: Hashable, Sendable {
    public var bytes: (UInt8, UInt8, UInt8, UInt8)

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        self.bytes = (b0, b1, b2, b3)
    }

    /// The key as it appears on the wire, first byte in the low bits (native little-endian load).
    @inlinable
    var wireWord: UInt32 {
        UInt32(self.bytes.0) | UInt32(self.bytes.1) << 8 | UInt32(self.bytes.2) << 16 | UInt32(self.bytes.3) << 24
    }

    public static func == (lhs: MaskingKey, rhs: MaskingKey) -> Bool { lhs.wireWord == rhs.wireWord }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.wireWord) }
}

/// Where a client's masking keys come from.
///
/// RFC 6455 §5.3: the key "MUST be derived from a strong source of entropy". Tests inject a fixed
/// key to get byte-exact vectors, as python's tests patch `secrets.token_bytes`.
public struct MaskingKeySource: Sendable {
    let next: @Sendable () -> MaskingKey

    public init(_ next: @escaping @Sendable () -> MaskingKey) {
        self.next = next
    }

    /// Keys from `SystemRandomNumberGenerator` (getrandom(2) on Linux).
    public static let random = MaskingKeySource {
        var generator = SystemRandomNumberGenerator()
        let word = generator.next() as UInt32
        return MaskingKey(UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8),
                          UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 24))
    }

    /// Always the same key: for tests and vectors only.
    public static func fixed(_ key: MaskingKey) -> MaskingKeySource {
        MaskingKeySource { key }
    }
}

/// XORs `buffer` in place with the key, starting `offset` bytes into the key's cycle.
///
/// Masking is its own inverse, so this both masks and unmasks.
/// - Returns: the key offset for the byte after the buffer, to continue a payload that arrives in pieces.
@inlinable
@discardableResult
public func applyMask(_ key: MaskingKey, to buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) -> Int {
    // The copying form with the buffer as both ends: each word is read before it is written.
    copyApplyingMask(key, from: UnsafeRawBufferPointer(buffer), to: buffer, offset: offset)
}

/// Copies `source` to `destination` (at least as large; it may be `source` itself) XORed with the
/// key from `offset` into its cycle, 32 bytes at a time in vector registers: unmasking on the way
/// into a message, one pass over the bytes where unmasking in place and then copying takes two.
/// - Returns: the key offset for the byte after `source`.
@inlinable
@discardableResult
public func copyApplyingMask(_ key: MaskingKey, from source: UnsafeRawBufferPointer,
                             to destination: UnsafeMutableRawBufferPointer, offset: Int = 0) -> Int {
    precondition(destination.count >= source.count, "the destination holds the whole source")
    guard let from = source.baseAddress, let to = destination.baseAddress, source.count > 0 else { return offset }
    let shift = UInt32((offset & 3) * 8)
    let word = shift == 0 ? key.wireWord : (key.wireWord >> shift) | (key.wireWord << (32 - shift))
    let wide = UInt64(word) | UInt64(word) << 32
    let count = source.count
    var index = 0
    if count >= 32 {
        let lanes = SIMD4<UInt64>(repeating: wide)
        while index + 32 <= count {
            let value = from.loadUnaligned(fromByteOffset: index, as: SIMD4<UInt64>.self)
            to.storeBytes(of: value ^ lanes, toByteOffset: index, as: SIMD4<UInt64>.self)
            index += 32
        }
    }
    while index + 8 <= count {
        let value = from.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        to.storeBytes(of: value ^ wide, toByteOffset: index, as: UInt64.self)
        index += 8
    }
    var rest = wide
    while index < count {
        to.storeBytes(of: from.load(fromByteOffset: index, as: UInt8.self) ^ UInt8(truncatingIfNeeded: rest),
                      toByteOffset: index, as: UInt8.self)
        rest >>= 8
        index += 1
    }
    return (offset + count) & 3
}

/// A masked payload chunk as the bytes it stands for: `Array.append(contentsOf:)` with it copies
/// and unmasks in one pass (`copyApplyingMask`, through `_copyContents`, the standard library's hook
/// for a sequence that can fill the array's new storage itself).
struct UnmaskedBytes: Sequence {
    let source: UnsafeRawBufferPointer
    let key: MaskingKey
    let offset: Int

    var underestimatedCount: Int { self.source.count }

    struct Iterator: IteratorProtocol {
        let bytes: UnmaskedBytes
        var index: Int

        mutating func next() -> UInt8? {
            guard self.index < self.bytes.source.count else { return nil }
            let keyIndex = (self.bytes.offset + self.index) & 3
            let key = self.bytes.key.bytes
            let keyByte = keyIndex == 0 ? key.0 : keyIndex == 1 ? key.1 : keyIndex == 2 ? key.2 : key.3
            defer { self.index += 1 }
            return self.bytes.source[self.index] ^ keyByte
        }
    }

    func makeIterator() -> Iterator { Iterator(bytes: self, index: 0) }

    func _copyContents(initializing destination: UnsafeMutableBufferPointer<UInt8>) -> (Iterator, Int) {
        let count = Swift.min(destination.count, self.source.count)
        copyApplyingMask(self.key, from: UnsafeRawBufferPointer(rebasing: self.source[0..<count]),
                         to: UnsafeMutableRawBufferPointer(destination), offset: self.offset)
        return (Iterator(bytes: self, index: count), count)
    }
}
