import WebSocket

/// Cuts a byte stream into lines, bounded: the stdio contract's line mode.
///
/// A line ends at `\n`; a `\r` before it is dropped too (websocketd's trimEOL). A line longer than
/// `maxLineLength` is delivered in pieces of at most that length, so a program that never writes a
/// newline cannot make wsgate's memory grow: each piece becomes its own message.
///
/// A piece ends between characters: when the cut would fall inside a UTF-8 character, the bytes of
/// that character stay behind and begin the next piece, so a long line of valid UTF-8 comes out as
/// pieces of valid UTF-8. Only a limit below 4 bytes can force a cut inside a character (a piece is
/// never empty). Where the cuts fall depends on the bytes alone, never on how they were read.
struct LineSplitter {
    let maxLineLength: Int
    /// Drop over-long lines whole instead of delivering them in pieces: a piece of a protocol line
    /// (the shared modes) would be misread as a command.
    let discardsLongLines: Bool
    private var partial: [UInt8] = []
    /// Inside a line already found too long, when discarding: skip up to its newline.
    private var discarding = false
    /// Lines dropped for being too long (with `discardsLongLines`).
    private(set) var discardedLines = 0

    init(maxLineLength: Int, discardsLongLines: Bool = false) {
        precondition(maxLineLength > 0)
        self.maxLineLength = maxLineLength
        self.discardsLongLines = discardsLongLines
    }

    /// Bytes held for a line not yet ended.
    var pendingCount: Int { self.partial.count }

    /// Feeds bytes and calls `line` for each complete line (or full-length piece), in order.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        let count = bytes.count
        while start < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            if self.discarding {
                guard let newline = rest.firstIndex(of: 0x0A) else { return }
                self.discarding = false
                start += newline + 1
                continue
            }
            let room = self.maxLineLength - self.partial.count
            guard let newline = rest.prefix(room + 1).firstIndex(of: 0x0A) else {
                if rest.count <= room {
                    self.partial.append(contentsOf: rest)
                    return
                }
                if self.discardsLongLines {
                    self.partial = []
                    self.discarding = true
                    self.discardedLines += 1
                    continue
                }
                // No newline within the bound: deliver a piece and go on.
                self.emitPiece(UnsafeRawBufferPointer(rebasing: rest.prefix(room)), line)
                start += room
                continue
            }
            let end = newline - rest.startIndex
            self.emit(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<newline]), line, trimCarriageReturn: true)
            start += end + 1
        }
    }

    /// Delivers what is left at end of stream: a last line without `\n` is still a line.
    mutating func finish(_ line: (UnsafeRawBufferPointer) -> Void) {
        self.discarding = false
        guard !self.partial.isEmpty else { return }
        let last = self.partial
        self.partial = []
        last.withUnsafeBytes { line($0) }
    }

    private mutating func emit(_ tail: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) -> Void,
                               trimCarriageReturn: Bool = false) {
        if self.partial.isEmpty {
            var bytes = tail
            if trimCarriageReturn, bytes.last == 0x0D { bytes = UnsafeRawBufferPointer(rebasing: bytes.dropLast()) }
            line(bytes)
            return
        }
        self.partial.append(contentsOf: tail)
        if trimCarriageReturn, self.partial.last == 0x0D { self.partial.removeLast() }
        let whole = self.partial
        self.partial = []
        whole.withUnsafeBytes { line($0) }
    }

    /// Delivers a full-length piece of a line (what is held, then `tail`), keeping back an unfinished
    /// character at its end for the next piece.
    private mutating func emitPiece(_ tail: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) -> Void) {
        if self.partial.isEmpty {
            let carry = Self.unfinishedCharacterCount(at: tail)
            line(UnsafeRawBufferPointer(rebasing: tail.dropLast(carry)))
            self.partial.append(contentsOf: tail.suffix(carry))
            return
        }
        self.partial.append(contentsOf: tail)
        let whole = self.partial
        let carry = whole.withUnsafeBytes { Self.unfinishedCharacterCount(at: $0) }
        self.partial = Array(whole.suffix(carry))
        whole.withUnsafeBytes { line(UnsafeRawBufferPointer(rebasing: $0.dropLast(carry))) }
    }

    /// How many bytes at the end of `piece` begin a UTF-8 character that they do not finish: 0 to 3,
    /// and never all of `piece`. Bytes that cannot begin a valid character count as finished: they
    /// become U+FFFD wherever the cut falls.
    static func unfinishedCharacterCount(at piece: UnsafeRawBufferPointer) -> Int {
        let count = piece.count
        guard count > 1 else { return 0 }
        // The character the cut falls in starts at the last byte that is not a continuation
        // (10xxxxxx), at most 3 bytes back: a 4-byte character with 3 after its lead is complete.
        for length in 1...min(3, count) where piece[count - length] & 0xC0 != 0x80 {
            guard length < count else { return 0 }
            var validator = UTF8Validator()
            let start = UnsafeRawBufferPointer(rebasing: piece[(count - length)...])
            return validator.feed(start) == nil && !validator.isComplete ? length : 0
        }
        return 0
    }
}
