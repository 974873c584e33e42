/// A fuzzer input read as a few parameter bytes followed by a body.
///
/// The parameters come first so that libFuzzer's mutations of the body do not shift them, and a
/// short input still works: a missing parameter byte reads as 0.
struct FuzzInput {
    private var remaining: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        self.remaining = bytes
    }

    mutating func byte() -> UInt8 {
        guard let first = self.remaining.first else { return 0 }
        self.remaining = UnsafeRawBufferPointer(rebasing: self.remaining.dropFirst())
        return first
    }

    mutating func uint16() -> UInt16 {
        UInt16(self.byte()) << 8 | UInt16(self.byte())
    }

    /// The rest of the input, still in libFuzzer's own buffer: a code path that reads one byte past
    /// its end hits AddressSanitizer's redzone, which a copy into a roomier Array would hide.
    var body: UnsafeRawBufferPointer { self.remaining }
}

/// Stops the run with a message when a property does not hold; libFuzzer saves the input.
func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
             line: UInt = #line) {
    if !condition { fatalError("property violated: \(message())", file: file, line: line) }
}

/// A short, printable rendering of bytes for failure messages.
func describe(_ bytes: some Collection<UInt8>, limit: Int = 96) -> String {
    let shown = bytes.prefix(limit).map { byte in
        (0x20..<0x7F).contains(byte) && byte != 0x5C ? String(UnicodeScalar(byte)) : "\\x" + hex(byte)
    }.joined()
    return "\"\(shown)\"" + (bytes.count > limit ? "… (\(bytes.count) bytes)" : "")
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// `buffer` cut in two at a point chosen by the fuzzer.
func split(_ buffer: UnsafeRawBufferPointer, at seed: UInt16) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
    let point = Int(seed) % (buffer.count + 1)
    return (UnsafeRawBufferPointer(rebasing: buffer[..<point]), UnsafeRawBufferPointer(rebasing: buffer[point...]))
}
