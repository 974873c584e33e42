/// Parses an HTTP/1.1 head from a byte stream that arrives in pieces, within a size bound.
///
/// Bytes after the empty line that ends the head are handed back: a client may send its first
/// frames in the same segment as its request. Lines end in CRLF; a bare LF is accepted too
/// (RFC 9112 §2.2 allows a recipient to). Obsolete line folding is rejected (RFC 9112 §5.2).
/// Empty lines before a request line are skipped (RFC 9112 §2.2), and count toward the bound.
public struct HTTPHeadParser: Sendable {
    public enum Kind: Sendable { case request, response }

    public enum Failure: Error, Equatable, Sendable {
        /// The head grew past `maxSize` bytes without ending.
        case tooLarge(limit: Int)
        /// The head is not valid HTTP/1.1; the text says where.
        case malformed(String)
    }

    /// The default bound on a head: 16 KiB, well above browsers' requests (1–3 KiB with cookies).
    public static let defaultMaxSize = 16 * 1024

    public let kind: Kind
    public let maxSize: Int
    private var buffer: [UInt8] = []
    private var scanned = 0
    /// Bytes of empty lines skipped before the request line; they count toward `maxSize`.
    private var skipped = 0
    /// Whether the start line has begun: from then on nothing is skipped.
    private var startLineBegun = false

    public init(kind: Kind = .request, maxSize: Int = HTTPHeadParser.defaultMaxSize) {
        self.kind = kind
        self.maxSize = maxSize
    }

    /// How many bytes are held waiting for the end of the head.
    public var bufferedCount: Int { self.buffer.count }

    /// Feeds bytes; once the head is complete, returns it and the bytes that followed it.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(Failure) -> (head: HTTPHead, rest: [UInt8])? {
        self.buffer.append(contentsOf: bytes)
        if !self.startLineBegun { self.skipEmptyLines() }
        let limit = self.maxSize - self.skipped
        guard self.startLineBegun, let end = self.findEnd() else {
            if self.buffer.count > limit { throw .tooLarge(limit: self.maxSize) }
            return nil
        }
        guard end <= limit else { throw .tooLarge(limit: self.maxSize) }
        let head = try Self.parse(self.buffer[..<end], kind: self.kind)
        let rest = Array(self.buffer[end...])
        self.buffer = []
        self.scanned = 0
        self.skipped = 0
        self.startLineBegun = false
        return (head, rest)
    }

    /// RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore
    /// at least one empty line (CRLF) received prior to the request-line." A client expects the
    /// status line first, so a response gets no such leeway.
    private mutating func skipEmptyLines() {
        guard self.kind == .request else {
            self.startLineBegun = true
            return
        }
        var index = 0
        while index < self.buffer.count {
            if self.buffer[index] == 0x0A {
                index += 1
            } else if self.buffer[index] == 0x0D && index + 1 < self.buffer.count && self.buffer[index + 1] == 0x0A {
                index += 2
            } else if self.buffer[index] == 0x0D && index + 1 == self.buffer.count {
                break  // a CR whose LF has not arrived yet
            } else {
                self.startLineBegun = true
                break
            }
        }
        self.buffer.removeFirst(index)
        self.skipped += index
    }

    /// The index just past the empty line, or nil. Resumes where the last call stopped looking.
    private mutating func findEnd() -> Int? {
        var index = max(self.scanned, 1)
        while index < self.buffer.count {
            if self.buffer[index] == 0x0A {
                if self.buffer[index - 1] == 0x0A { return index + 1 }
                if index >= 2 && self.buffer[index - 1] == 0x0D && self.buffer[index - 2] == 0x0A { return index + 1 }
            }
            index += 1
        }
        self.scanned = index
        return nil
    }

    static func parse(_ bytes: ArraySlice<UInt8>, kind: Kind) throws(Failure) -> HTTPHead {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(Failure) in try Self.parse(buffer, kind: kind) }
        }
        return try result.get()
    }

    /// Line by line over the bytes in place, without splitting them into arrays first: a handshake
    /// is parsed once per connection, and connect churn makes that a hot path.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, kind: Kind) throws(Failure) -> HTTPHead {
        var lineStart = 0
        var lines = 0
        for byte in bytes where byte == 0x0A { lines += 1 }
        func nextLine() -> Slice<UnsafeBufferPointer<UInt8>>? {
            guard lineStart < bytes.count else { return nil }
            var newline = lineStart
            while newline < bytes.count && bytes[newline] != 0x0A { newline += 1 }
            var end = newline
            if end > lineStart && bytes[end - 1] == 0x0D { end -= 1 }
            let line = bytes[lineStart..<end]
            lineStart = newline < bytes.count ? newline + 1 : newline
            return line
        }
        guard let first = nextLine(), !first.isEmpty else { throw .malformed("empty start line") }
        let startLine = try Self.parseStartLine(ArraySlice(first), kind: kind)
        var headers: [(name: String, value: String)] = []
        // Exactly as many as there are lines, at most: a session keeps its request, so no spare room.
        headers.reserveCapacity(lines)
        while let line = nextLine() {
            guard let firstByte = line.first else {
                // The empty line that ends the head; only empty lines may follow it.
                if bytes[lineStart...].allSatisfy({ $0 == 0x0A || $0 == 0x0D }) { break }
                throw .malformed("empty header line")
            }
            if firstByte == 0x20 || firstByte == 0x09 { throw .malformed("obsolete line folding") }
            var colon = line.startIndex
            while colon < line.endIndex && bytes[colon] != UInt8(ascii: ":") { colon += 1 }
            guard colon < line.endIndex else { throw .malformed("header line without colon") }
            let name = bytes[line.startIndex..<colon]
            // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon."
            var nameValid = !name.isEmpty
            for byte in name where !Self.isTokenCharacter(byte) { nameValid = false }
            guard nameValid else { throw .malformed("invalid header name \(Self.quoted(ArraySlice(name)))") }
            var valueStart = colon + 1, valueEnd = line.endIndex
            for index in valueStart..<valueEnd {
                let byte = bytes[index]
                guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else {
                    throw .malformed("control character in header \(Self.quoted(ArraySlice(name)))")
                }
            }
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
            while valueStart < valueEnd && isSpace(bytes[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
            let value = UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd])
            let fieldName = Self.fieldName(UnsafeBufferPointer(rebasing: name))
            headers.append((fieldName, String(decoding: value, as: UTF8.self)))
        }
        return HTTPHead(startLine: startLine, headers: headers)
    }

    /// Names every WebSocket client sends, spelled as browsers and most libraries spell them.
    private static let commonNames: [String] = [
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol", "Origin", "User-Agent", "Accept-Encoding", "Accept-Language", "Cache-Control",
        "Pragma", "Cookie",
    ]

    /// The name as a String: one of `commonNames` when it is spelled the same (a literal, stored in the
    /// binary), else a new one. Sessions keep their request, and long names would each take an allocation.
    static func fieldName(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for name in Self.commonNames where name.utf8.count == bytes.count {
            // A plain loop: the generic `elementsEqual` took hundreds of instructions per name.
            let same = name.utf8.withContiguousStorageIfAvailable { known in
                var index = 0
                while index < known.count && known[index] == bytes[index] { index += 1 }
                return index == known.count
            }
            if same == true { return name }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func parseStartLine(_ line: ArraySlice<UInt8>, kind: Kind) throws(Failure) -> HTTPHead.StartLine {
        let parts = line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        switch kind {
        case .request:
            guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(Self.isTokenCharacter),
                !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }), Self.isVersion(parts[2])
            else { throw .malformed("invalid request line \(Self.quoted(line))") }
            return .request(method: String(decoding: parts[0], as: UTF8.self),
                            target: String(decoding: parts[1], as: UTF8.self),
                            version: String(decoding: parts[2], as: UTF8.self))
        case .response:
            guard parts.count >= 2, Self.isVersion(parts[0]), parts[1].count == 3,
                parts[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let status = Int(String(decoding: parts[1], as: UTF8.self))
            else { throw .malformed("invalid status line \(Self.quoted(line))") }
            let reason = parts.count == 3 ? String(decoding: parts[2], as: UTF8.self) : ""
            return .response(version: String(decoding: parts[0], as: UTF8.self), status: status, reason: reason)
        }
    }

    static func isVersion(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count == 8 else { return false }
        let text = bytes.startIndex
        return bytes[text] == UInt8(ascii: "H") && bytes[text + 1] == UInt8(ascii: "T")
            && bytes[text + 2] == UInt8(ascii: "T") && bytes[text + 3] == UInt8(ascii: "P")
            && bytes[text + 4] == UInt8(ascii: "/")
            && (0x30...0x39).contains(bytes[text + 5]) && bytes[text + 6] == UInt8(ascii: ".")
            && (0x30...0x39).contains(bytes[text + 7])
    }

    /// RFC 9110 §5.6.2 tchar: letters, digits and "!#$%&'*+-.^_`|~".
    package static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E...0x60, 0x7C, 0x7E:
            true
        default:
            false
        }
    }

    package static func quoted(_ bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(60), as: UTF8.self)
        return "'\(text)\(bytes.count > 60 ? "..." : "")'"
    }
}
