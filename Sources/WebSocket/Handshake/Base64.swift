/// Base64 with the standard alphabet and padding (RFC 4648 §4), as the handshake headers use it.
package enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    package static func encode(_ bytes: [UInt8]) -> String {
        let count = (bytes.count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: count) { output in
            var index = 0, out = 0
            while index < bytes.count {
                let available = min(3, bytes.count - index)
                var word = UInt32(bytes[index]) << 16
                if available > 1 { word |= UInt32(bytes[index + 1]) << 8 }
                if available > 2 { word |= UInt32(bytes[index + 2]) }
                for position in 0..<4 {
                    output[out + position] = position <= available
                        ? Self.alphabet[Int(word >> UInt32(18 - position * 6) & 0x3F)] : UInt8(ascii: "=")
                }
                index += 3
                out += 4
            }
            return count
        }
    }

    /// The six bits a character of the alphabet stands for, nil for any other byte.
    private static func value(of character: UInt8) -> UInt32? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(character - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(character - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(character - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    /// Decodes canonical Base64: padding required, no whitespace, unused bits zero. Nil otherwise.
    package static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { Self.decode($0) }
    }

    private static func decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var word = UInt32(0)
            var padding = 0
            for position in 0..<4 {
                let character = input[index + position]
                let value: UInt32
                if character == UInt8(ascii: "=") {
                    // Padding only at the end of the last group, and at most two.
                    guard index + 4 == input.count, position >= 2 else { return nil }
                    padding += 1
                    value = 0
                } else {
                    guard padding == 0, let found = Self.value(of: character) else { return nil }
                    value = found
                }
                word = word << 6 | value
            }
            // Non-canonical encodings leave set bits behind the padding.
            if padding == 1, word & 0xFF != 0 { return nil }
            if padding == 2, word & 0xFFFF != 0 { return nil }
            output.append(UInt8(word >> 16))
            if padding < 2 { output.append(UInt8(word >> 8 & 0xFF)) }
            if padding < 1 { output.append(UInt8(word & 0xFF)) }
            index += 4
        }
        return output
    }
}
