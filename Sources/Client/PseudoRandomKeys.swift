import WebSocket

/// Masking keys from xoshiro256**, seeded from the system's generator: for load generation only.
///
/// `MaskingKeySource.random` costs a getrandom(2) call per frame (about 0.5 µs), which would make a
/// benchmark client measure itself. RFC 6455 §5.3 wants keys an attacker cannot predict; a load
/// generator talking to our own server has no such attacker. Interactive clients use `.random`.
final class PseudoRandomKeys: @unchecked Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        self.state = (system.next(), system.next(), system.next(), system.next() | 1)
    }

    func next() -> MaskingKey {
        let result = ((self.state.1 &* 5) << 7 | (self.state.1 &* 5) >> 57) &* 9
        let t = self.state.1 << 17
        self.state.2 ^= self.state.0
        self.state.3 ^= self.state.1
        self.state.1 ^= self.state.2
        self.state.0 ^= self.state.3
        self.state.2 ^= t
        self.state.3 = self.state.3 << 45 | self.state.3 >> 19
        return MaskingKey(UInt8(truncatingIfNeeded: result >> 32), UInt8(truncatingIfNeeded: result >> 40),
                          UInt8(truncatingIfNeeded: result >> 48), UInt8(truncatingIfNeeded: result >> 56))
    }

    /// A key source for one connection (one loop thread).
    static func source() -> MaskingKeySource {
        let keys = PseudoRandomKeys()
        return MaskingKeySource { keys.next() }
    }
}
