import WebSocket

/// The header block a CGI script writes before its body (RFC 3875 §6), parsed as it arrives.
///
/// Sans-I/O: feed it the script's stdout; once the empty line has come it returns the response and
/// the bytes after it (the start of the body). Lines end in LF or CRLF. What the server answers:
/// - `Status: NNN reason` sets the status (default 200; 302 when there is a `Location`);
/// - `Location` with no `Status` redirects with 302. RFC 3875 §6.2.2's local redirect (a path, to
///   be served inside the server as a new GET) is sent to the client as a 302 too: the client
///   follows it, and a script cannot loop the server;
/// - a document needs `Content-Type` (RFC 3875 §6.3.1), unless its status has no body (204, 304);
/// - `Content-Length`, when the script gives a valid one, frames the body; hop-by-hop fields
///   (`Connection`, `Keep-Alive`, `Transfer-Encoding`, …) are the server's and are dropped;
/// - every other field passes through.
/// A line without a colon, a name that is not a token, a bad `Status` or `Content-Length`, no
/// `Content-Type` or `Location`, or a block larger than `maxSize` is malformed: the caller answers 502.
public struct CGIResponseHead: Equatable, Sendable {
    public var status: Int
    public var reason: String
    /// Fields for the client, in the script's order, `Content-Length` excluded.
    public var headers: [(name: String, value: String)]
    /// The body's length when the script gave one.
    public var contentLength: Int64?

    public static func == (lhs: CGIResponseHead, rhs: CGIResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.contentLength == rhs.contentLength
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
    ]

    /// Reads a header block from a script's output, within a size bound.
    public struct Parser: Sendable {
        public let maxSize: Int
        private var buffer: [UInt8] = []
        private var scanned = 0

        public init(maxSize: Int = 16 * 1024) {
            self.maxSize = maxSize
        }

        /// Feeds output; once the block is complete, returns it and what followed it.
        /// - Throws: `Malformed` with a reason for the log and the 502's body.
        public mutating func feed(_ bytes: some Collection<UInt8>) throws(Malformed) -> (head: CGIResponseHead, rest: [UInt8])? {
            self.buffer.append(contentsOf: bytes)
            var index = self.scanned
            while index < self.buffer.count {
                if self.buffer[index] == 0x0A {
                    let blank = index == 0 || self.buffer[index - 1] == 0x0A
                        || (self.buffer[index - 1] == 0x0D && (index == 1 || self.buffer[index - 2] == 0x0A))
                    if blank {
                        guard index < self.maxSize else { throw Malformed("header block larger than \(self.maxSize) bytes") }
                        let head = try CGIResponseHead.parse(self.buffer[..<index])
                        return (head, Array(self.buffer[(index + 1)...]))
                    }
                }
                index += 1
            }
            self.scanned = index
            if self.buffer.count > self.maxSize { throw Malformed("header block larger than \(self.maxSize) bytes") }
            return nil
        }
    }

    public struct Malformed: Error, Equatable, Sendable {
        public let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static func parse(_ block: ArraySlice<UInt8>) throws(Malformed) -> CGIResponseHead {
        var status: Int?
        var reason = ""
        var contentType = false
        var location = false
        var contentLength: Int64?
        var headers: [(name: String, value: String)] = []
        let lines = block.split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { $0.last == 0x0D ? $0.dropLast() : $0 }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw Malformed("empty header block") }
        for line in lines {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw Malformed("header line without a colon: \(HTTPHeadParser.quoted(line))")
            }
            let nameBytes = line[..<colon]
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(HTTPHeadParser.isTokenCharacter) else {
                throw Malformed("invalid header name \(HTTPHeadParser.quoted(nameBytes))")
            }
            let valueBytes = line[line.index(after: colon)...]
            guard valueBytes.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw Malformed("control character in header \(HTTPHeadParser.quoted(nameBytes))")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(String(decoding: valueBytes, as: UTF8.self)[...].trimmingHTTPWhitespace())
            switch name.lowercased() {
            case "status":
                guard status == nil else { throw Malformed("more than one Status") }
                let digits = value.prefix(3)
                guard digits.count == 3, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let code = Int(digits),
                    (100...599).contains(code), value.count == 3 || value.dropFirst(3).first == " "
                else { throw Malformed("invalid Status '\(value)'") }
                status = code
                reason = String(value.dropFirst(4))
            case "content-length":
                guard contentLength == nil, !value.isEmpty, value.utf8.count <= 18,
                    value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int64(value)
                else { throw Malformed("invalid Content-Length '\(value)'") }
                contentLength = length
            default:
                if Self.hopByHop.contains(name.lowercased()) { continue }
                if name.lowercased() == "content-type" { contentType = true }
                if name.lowercased() == "location" {
                    guard !value.isEmpty else { throw Malformed("empty Location") }
                    location = true
                }
                headers.append((name, value))
            }
        }
        let code = status ?? (location ? 302 : 200)
        guard contentType || location || code == 204 || code == 304 else {
            throw Malformed("neither Content-Type nor Location")
        }
        return CGIResponseHead(status: code, reason: reason, headers: headers,
                               contentLength: code == 204 || code == 304 ? 0 : contentLength)
    }
}
