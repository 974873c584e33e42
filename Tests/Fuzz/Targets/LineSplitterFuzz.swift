/// The stdio contract's line mode: `LineSplitter`, then `TextLine` on each line.
///
/// Input: an option byte (bits 0–5: the line bound minus one; bit 6: drop long lines), a byte whose
/// bits 0–4 are the text bound minus one, two bytes that pick a split point, then a program's output.
/// Properties:
/// - chunking invariance: the same lines and discard count whole, split in two, and a byte at a time;
/// - the lines give back the input: cut the input at `\n`; a line within the bound is one line, its
///   `\r` before the `\n` dropped; a longer one comes in pieces of at most the bound, at least the bound
///   less 3 (the bytes of a character the cut would split are carried over), that join to the line;
///   with a bound of 4 or more, a line of valid UTF-8 comes out as pieces of valid UTF-8. When long
///   lines are dropped, each is counted instead. A last line without `\n` comes out at `finish`.
/// - `TextLine.pieces` makes any line valid UTF-8 in pieces of at most its limit, greedy, that join
///   to the line as `String(decoding:as:)` repairs it (characters wider than a limit under 4 replaced).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineSplitter(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let options = input.byte()
    let textLimit = Int(input.byte() & 0x1F) + 1
    let splitSeed = input.uint16()
    let bound = Int(options & 0x3F) + 1
    let discards = options & 0x40 != 0
    let bytes = input.body

    let whole = Split(bound: bound, discards: discards, [bytes])
    let (first, second) = split(bytes, at: splitSeed)
    let pieces = Split(bound: bound, discards: discards, [first, second])
    require(pieces == whole, "split at \(first.count): \(pieces) vs whole \(whole)")
    if bytes.count <= 2048 {
        let trickle = Split(bound: bound, discards: discards, bytes.indices.map { UnsafeRawBufferPointer(rebasing: bytes[$0...$0]) })
        require(trickle == whole, "byte at a time: \(trickle) vs whole \(whole)")
    }

    checkLines(whole, of: bytes, bound: bound, discards: discards)
    for line in whole.lines { checkTextLine(line, limit: textLimit) }
    checkTextLine(Array(bytes), limit: textLimit)
    return 0
}

/// The lines a `LineSplitter` delivers for some chunks of input, `finish` included.
struct Split: Equatable, CustomStringConvertible {
    var lines: [[UInt8]] = []
    var discarded = 0

    init(bound: Int, discards: Bool, _ chunks: [UnsafeRawBufferPointer]) {
        var splitter = LineSplitter(maxLineLength: bound, discardsLongLines: discards)
        for chunk in chunks {
            splitter.feed(chunk) { self.lines.append(Array($0)) }
            require(splitter.pendingCount <= bound, "\(splitter.pendingCount) bytes held with a bound of \(bound)")
        }
        splitter.finish { self.lines.append(Array($0)) }
        require(splitter.pendingCount == 0, "bytes held after finish")
        self.discarded = splitter.discardedLines
    }

    var description: String { "\(self.lines.count) lines \(self.lines.prefix(6).map { describe($0, limit: 20) }), \(self.discarded) dropped" }
}

func checkLines(_ split: Split, of bytes: UnsafeRawBufferPointer, bound: Int, discards: Bool) {
    let segments = Array(bytes).split(separator: 0x0A, omittingEmptySubsequences: false)
    var lines = split.lines[...]
    var discarded = 0
    func next(_ what: @autoclosure () -> String) -> [UInt8] {
        guard let line = lines.popFirst() else {
            require(false, "missing line: \(what()) in \(describe(bytes))")
            return []
        }
        return line
    }
    for (index, segment) in segments.enumerated() {
        let terminated = index < segments.count - 1
        let complete = terminated && segment.last == 0x0D ? segment.dropLast() : segment
        if discards {
            if segment.count > bound {
                discarded += 1
            } else if terminated || !segment.isEmpty {
                let line = next("line \(index)")
                require(line.elementsEqual(complete), "line \(index) is \(describe(line)), expected \(describe(complete))")
            }
            continue
        }
        let validText = ReferenceUTF8.isValid(segment)
        var rest = segment[...]
        while rest.count > bound {
            let piece = next("a piece of line \(index)")
            require(piece.count <= bound && piece.count >= max(1, bound - 3),
                    "a piece of \(piece.count) bytes with a bound of \(bound) in \(describe(bytes))")
            require(rest.starts(with: piece), "piece \(describe(piece)) is not the start of \(describe(rest))")
            if bound >= 4 && validText {
                require(ReferenceUTF8.isValid(piece), "piece \(describe(piece)) of valid UTF-8 is not valid UTF-8")
            }
            rest = rest.dropFirst(piece.count)
        }
        guard terminated || !rest.isEmpty else { continue }
        let line = next("the end of line \(index)")
        let expected = terminated && rest.last == 0x0D ? rest.dropLast() : rest
        require(line.elementsEqual(expected), "line \(index) ends with \(describe(line)), expected \(describe(expected))")
    }
    require(lines.isEmpty, "\(lines.count) lines too many: \(lines.prefix(3).map { describe($0) }) from \(describe(bytes))")
    require(split.discarded == discarded, "\(split.discarded) lines dropped, expected \(discarded)")
}

func checkTextLine(_ line: [UInt8], limit: Int) {
    let pieces = TextLine.pieces(of: line, limit: limit)
    require(!pieces.isEmpty, "no piece for \(describe(line))")
    for piece in pieces {
        require(piece.count <= limit, "a piece of \(piece.count) bytes with a limit of \(limit)")
        require(ReferenceUTF8.isValid(piece), "piece \(describe(piece)) is not UTF-8")
    }
    if line.count <= limit && ReferenceUTF8.isValid(line) {
        require(pieces == [line], "a valid line within the limit came out as \(pieces.count) pieces")
    }
    let replacement: [UInt8] = limit >= 3 ? [0xEF, 0xBF, 0xBD] : [UInt8(ascii: "?")]
    var expected: [UInt8] = []
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = line.makeIterator()
    parsing: while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let scalar): expected += scalar.count <= limit ? Array(scalar) : replacement
        case .error: expected += replacement
        case .emptyInput: break parsing
        }
    }
    let joined = Array(pieces.joined())
    require(joined == expected, "pieces join to \(describe(joined)), expected \(describe(expected)) (limit \(limit))")
    for (piece, following) in zip(pieces, pieces.dropFirst()) {
        let next = String(decoding: following, as: UTF8.self).unicodeScalars.first.map { String($0).utf8.count } ?? 0
        require(next > 0 && piece.count + next > limit, "piece \(describe(piece)) could have taken the next character (limit \(limit))")
    }
}
