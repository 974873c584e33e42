import WebSocket

/// A line of program output made fit to send as text: valid UTF-8, in pieces of at most `limit` bytes.
///
/// Bytes that are not UTF-8 become U+FFFD, one for each maximal invalid subsequence (Unicode §3.9,
/// what `String(decoding:as:)` does). U+FFFD takes three bytes, so the repaired text can be up to
/// three times as long as the line: it is cut into as many pieces as it needs, each at a character
/// boundary, each at most `limit` bytes. That is why the limit is applied after the repair and not
/// before: a 1 MiB line of invalid bytes would otherwise become a 3 MiB message.
///
/// A limit under 4 bytes cannot hold every character. A character wider than the whole limit is
/// sent as U+FFFD, or as `?` when the limit is under 3 bytes; a piece never goes over the limit.
enum TextLine {
    /// Calls `piece` with the text of `line`, in order, once for each piece; at least once, so an
    /// empty line is an empty message. A valid line within the limit is passed on as it is.
    static func pieces(of line: UnsafeRawBufferPointer, limit: Int, _ piece: (UnsafeRawBufferPointer) -> Void) {
        precondition(limit > 0, "a text message limit must be positive")
        if line.count <= limit && UTF8Validator.isValid(line) {
            piece(line)
            return
        }
        let replacement: [UInt8] = limit >= 3 ? [0xEF, 0xBF, 0xBD] : [UInt8(ascii: "?")]
        var text: [UInt8] = []
        text.reserveCapacity(min(limit, line.count * 3))
        var sent = false
        func append(_ character: some Collection<UInt8>) {
            if text.count + character.count > limit {
                text.withUnsafeBytes { piece($0) }
                text.removeAll(keepingCapacity: true)
                sent = true
            }
            text.append(contentsOf: character)
        }
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = line.makeIterator()
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let character):
                if character.count <= limit { append(character) } else { append(replacement) }
            case .error:
                append(replacement)
            case .emptyInput:
                if !text.isEmpty || !sent { text.withUnsafeBytes { piece($0) } }
                return
            }
        }
    }

    /// The pieces of `line` as byte arrays; see `pieces(of:limit:_:)`.
    static func pieces(of line: [UInt8], limit: Int) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        line.withUnsafeBytes { bytes in Self.pieces(of: bytes, limit: limit) { pieces.append(Array($0)) } }
        return pieces
    }
}
