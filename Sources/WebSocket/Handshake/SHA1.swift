/// SHA-1 (FIPS 180-4), only for `Sec-WebSocket-Accept` (RFC 6455 §4.2.2).
///
/// SHA-1 is broken for collision resistance, which the handshake does not rely on: the accept key
/// only proves the server read the request. The gateway also keys its cache of checked passwords
/// with it (salted per process), which relies only on preimage resistance, unbroken for SHA-1.
/// Not for anything else.
package enum SHA1 {
    package static func hash(_ message: [UInt8]) -> [UInt8] {
        var state = State()
        message.withUnsafeBytes { bytes in
            // Whole blocks straight from the message, then the tail and the padding (one or two
            // blocks) from a buffer on the stack: no copy of the message, nothing on the heap
            // but the digest. Every handshake hashes its key (60 bytes, two blocks).
            var offset = 0
            while offset + 64 <= bytes.count {
                state.compress(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 64]))
                offset += 64
            }
            withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
                tail.initializeMemory(as: UInt8.self, repeating: 0)
                let rest = bytes.count - offset
                if rest > 0 { tail.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
                tail[rest] = 0x80
                let blocks = rest < 56 ? 1 : 2
                let bitLength = UInt64(bytes.count) &* 8
                for index in 0..<8 {
                    tail[blocks * 64 - 1 - index] = UInt8(truncatingIfNeeded: bitLength >> UInt64(index * 8))
                }
                for block in 0..<blocks {
                    state.compress(UnsafeRawBufferPointer(rebasing: tail[block * 64..<block * 64 + 64]))
                }
            }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for word in [state.h.0, state.h.1, state.h.2, state.h.3, state.h.4] {
            digest.append(UInt8(word >> 24))
            digest.append(UInt8(word >> 16 & 0xFF))
            digest.append(UInt8(word >> 8 & 0xFF))
            digest.append(UInt8(word & 0xFF))
        }
        return digest
    }

    private struct State {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) =
            (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)

        /// Folds one 64-byte block into the state.
        mutating func compress(_ block: UnsafeRawBufferPointer) {
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
                for t in 0..<16 {
                    w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
                }
                for t in 16..<80 { w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotatedLeft(1) }
                var (a, b, c, d, e) = self.h
                // The four kinds of round in loops of their own, not a switch in every round.
                for t in 0..<20 {
                    let temp = a.rotatedLeft(5) &+ ((b & c) | (~b & d)) &+ e &+ 0x5A82_7999 &+ w[t]
                    (e, d, c, b, a) = (d, c, b.rotatedLeft(30), a, temp)
                }
                for t in 20..<40 {
                    let temp = a.rotatedLeft(5) &+ (b ^ c ^ d) &+ e &+ 0x6ED9_EBA1 &+ w[t]
                    (e, d, c, b, a) = (d, c, b.rotatedLeft(30), a, temp)
                }
                for t in 40..<60 {
                    let temp = a.rotatedLeft(5) &+ ((b & c) | (b & d) | (c & d)) &+ e &+ 0x8F1B_BCDC &+ w[t]
                    (e, d, c, b, a) = (d, c, b.rotatedLeft(30), a, temp)
                }
                for t in 60..<80 {
                    let temp = a.rotatedLeft(5) &+ (b ^ c ^ d) &+ e &+ 0xCA62_C1D6 &+ w[t]
                    (e, d, c, b, a) = (d, c, b.rotatedLeft(30), a, temp)
                }
                self.h = (self.h.0 &+ a, self.h.1 &+ b, self.h.2 &+ c, self.h.3 &+ d, self.h.4 &+ e)
            }
        }
    }
}

extension UInt32 {
    fileprivate func rotatedLeft(_ count: UInt32) -> UInt32 { self << count | self >> (32 - count) }
}
