/// A request path made safe to look up below a served directory (`--staticdir`, `--cgidir`):
/// percent-decoded, split into segments, and refused when it could name anything outside.
///
/// Pure: it never touches the file system. What it refuses, and how:
/// - a path that does not start with "/", a malformed `%` escape, or a NUL byte (`%00`): 400;
/// - a segment that starts with "." once decoded: `.` and `..` (spelled out or as `%2e%2e`) and
///   every dotfile (`.git`, `.env`): 404;
/// - an encoded slash (`%2f`) in a segment, which would make one segment two once decoded, and a
///   segment that is not UTF-8: 404.
///
/// Empty segments (`//`) are dropped. `..` is refused rather than resolved: a browser resolves dot
/// segments before it sends a request (RFC 3986 §5.2.4), so only hand-made requests carry them.
/// Symbolic links are the caller's to check, against the real path of the directory.
public struct RequestPath: Equatable, Sendable {
    /// The decoded segments: none empty, none starting with ".", none holding "/" or NUL.
    public var segments: [String]
    /// The path ended in "/": a directory was asked for.
    public var trailingSlash: Bool

    public enum Refusal: Error, Equatable, Sendable {
        /// 400: the path itself is malformed.
        case badRequest(String)
        /// 404: the path names nothing that may be served.
        case notFound(String)

        public var status: Int {
            switch self {
            case .badRequest: 400
            case .notFound: 404
            }
        }

        public var reason: String {
            switch self {
            case .badRequest(let why), .notFound(let why): why
            }
        }
    }

    public init(segments: [String], trailingSlash: Bool) {
        self.segments = segments
        self.trailingSlash = trailingSlash
    }

    /// Checks and decodes `raw`, a request target's path (no query).
    public static func parse(_ raw: String) -> Result<RequestPath, Refusal> {
        let bytes = Array(raw.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return .failure(.badRequest("path must start with /")) }
        var segments: [String] = []
        let parts = bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for part in parts where !part.isEmpty {
            guard let decoded = Self.percentDecoded(part) else {
                return .failure(.badRequest("malformed percent-encoding in path"))
            }
            if decoded.contains(0) { return .failure(.badRequest("NUL byte in path")) }
            if decoded.contains(UInt8(ascii: "/")) { return .failure(.notFound("encoded slash in path")) }
            if decoded.first == UInt8(ascii: ".") { return .failure(.notFound("path segment starting with .")) }
            guard let text = String(validating: decoded, as: UTF8.self) else {
                return .failure(.notFound("path is not UTF-8"))
            }
            segments.append(text)
        }
        let trailingSlash = !segments.isEmpty && bytes.last == UInt8(ascii: "/")
        return .success(RequestPath(segments: segments, trailingSlash: trailingSlash))
    }

    /// The decoded path, "/" for the root: what SCRIPT_NAME, PATH_INFO and the logs show.
    public var decoded: String {
        if self.segments.isEmpty { return "/" }
        return "/" + self.segments.joined(separator: "/") + (self.trailingSlash ? "/" : "")
    }

    /// `bytes` with each `%XX` decoded, or nil when a `%` is not followed by two hex digits.
    static func percentDecoded(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard bytes.endIndex - index >= 3,
                    let high = Self.hexValue(bytes[index + 1]), let low = Self.hexValue(bytes[index + 2])
                else { return nil }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(byte)
                index += 1
            }
        }
        return decoded
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
