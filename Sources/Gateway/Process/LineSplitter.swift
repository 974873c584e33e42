/// Cuts a byte stream into lines, bounded: the stdio contract's line mode.
///
/// A line ends at `\n`; a `\r` before it is dropped too (websocketd's trimEOL). A line longer than
/// `maxLineLength` is delivered in pieces of that length, so a program that never writes a newline
/// cannot make wsgate's memory grow: each piece becomes its own message.
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
                // No newline within the bound: deliver a full piece and go on.
                self.emit(UnsafeRawBufferPointer(rebasing: rest.prefix(room)), line)
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
}
