/// UTF-8 facts computed with the standard library's decoder, as a reference independent of
/// `UTF8Validator`.
enum ReferenceUTF8 {
    static func isValid(_ bytes: some Sequence<UInt8>) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    /// Where a validator that fails "at the first byte that no valid continuation could follow"
    /// must fail: nil when every byte can still be part of valid UTF-8. `endsInside` tells whether
    /// the bytes stop in the middle of a character.
    static func firstImpossibleByte(_ bytes: UnsafeRawBufferPointer) -> (offset: Int?, endsInside: Bool) {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var position = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                position += scalar.count
            case .emptyInput:
                return (nil, false)
            case .error:
                // The scalar at `position` is broken or cut short; the longest prefix of it that some
                // continuation bytes could still complete is where the impossible byte follows.
                let tail = Array(bytes[position..<min(position + 4, bytes.count)])
                var completable = 0
                while completable < min(3, tail.count), Self.isCompletable(Array(tail[...completable])) {
                    completable += 1
                }
                if position + completable == bytes.count { return (nil, true) }
                return (position + completable, false)
            }
        }
    }

    /// Whether `prefix` (1–4 bytes) is the beginning of exactly one valid scalar. Tries every
    /// completion from continuation bytes at the edges of the ranges Unicode Table 3-7 allows.
    static func isCompletable(_ prefix: [UInt8]) -> Bool {
        let edges: [UInt8] = [0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF]
        func search(_ bytes: [UInt8]) -> Bool {
            if let text = String(validating: bytes, as: UTF8.self), text.unicodeScalars.count == 1 { return true }
            guard bytes.count < 4 else { return false }
            return edges.contains { search(bytes + [$0]) }
        }
        return search(prefix)
    }
}
