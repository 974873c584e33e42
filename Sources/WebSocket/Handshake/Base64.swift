/// Base64 with the standard alphabet and padding (RFC 4648 §4), as the handshake headers use it.
package enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    package static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var word = UInt32(0)
            for (offset, byte) in chunk.enumerated() { word |= UInt32(byte) << UInt32(16 - offset * 8) }
            for position in 0..<4 {
                if position <= chunk.count {
                    output.append(Self.alphabet[Int(word >> UInt32(18 - position * 6) & 0x3F)])
                } else {
                    output.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes canonical Base64: padding required, no whitespace, unused bits zero. Nil otherwise.
    package static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
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
                    guard padding == 0, let found = Self.alphabet.firstIndex(of: character) else { return nil }
                    value = UInt32(found)
                }
                word = word << 6 | value
            }
            let bytes = [UInt8(word >> 16), UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF)]
            // Non-canonical encodings leave set bits behind the padding.
            if padding == 1, bytes[2] != 0 { return nil }
            if padding == 2, bytes[1] != 0 || bytes[2] != 0 { return nil }
            output.append(contentsOf: bytes[0..<(3 - padding)])
            index += 4
        }
        return output
    }
}
