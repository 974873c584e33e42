import WebSocket

/// What a `Range` request field asks of a representation `length` bytes long (RFC 9110 §14).
///
/// Only one range is served. A request for several gets the whole representation (200) when any
/// of them could be served, and 416 when none could: RFC 9110 §14.2 lets a server ignore
/// `Range`, and a multipart/byteranges body is not worth its code for the clients that send
/// several ranges (none of the common ones: browsers' media players, download resumers and
/// `curl -r` ask for one). A field in another unit, or one that does not parse, is ignored.
public enum ByteRange: Equatable, Sendable {
    /// Serve everything, 200.
    case whole
    /// Serve `first...last` (both inclusive, within the length), 206.
    case partial(first: Int64, last: Int64)
    /// 416, with `Content-Range: bytes */length`.
    case unsatisfiable

    /// - Parameters:
    ///   - field: the `Range` field's value, nil when there is none.
    ///   - length: the representation's length in bytes.
    public static func parse(_ field: String?, length: Int64) -> ByteRange {
        guard let field else { return .whole }
        let text = field[...].trimmingHTTPWhitespace()
        guard let equals = text.firstIndex(of: "="),
            text[..<equals].trimmingHTTPWhitespace().lowercased() == "bytes"
        else { return .whole }
        let specs = String(text[text.index(after: equals)...]).splittingBytes(at: UInt8(ascii: ","))
            .map { $0.trimmingHTTPWhitespace() }.filter { !$0.isEmpty }
        guard !specs.isEmpty else { return .whole }
        var satisfiable: [(Int64, Int64)] = []
        for spec in specs {
            guard let range = Self.parseSpec(spec) else { return .whole }
            if let resolved = Self.resolve(range, length: length) { satisfiable.append(resolved) }
        }
        if satisfiable.isEmpty { return .unsatisfiable }
        if specs.count > 1 { return .whole }
        return .partial(first: satisfiable[0].0, last: satisfiable[0].1)
    }

    /// One range spec: `first-last`, `first-` or `-suffix`. Nil when it does not parse.
    private enum Spec {
        case from(Int64, to: Int64?)
        case suffix(Int64)
    }

    private static func parseSpec(_ spec: Substring) -> Spec? {
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let before = spec[..<dash]
        let after = spec[spec.index(after: dash)...]
        if before.isEmpty {
            guard let suffix = Self.number(after) else { return nil }
            return .suffix(suffix)
        }
        guard let first = Self.number(before) else { return nil }
        if after.isEmpty { return .from(first, to: nil) }
        // RFC 9110 §14.1.1: a last-pos less than the first-pos makes the range-spec invalid.
        guard let last = Self.number(after), last >= first else { return nil }
        return .from(first, to: last)
    }

    /// The inclusive bounds `spec` covers within `length`, or nil when it covers nothing.
    private static func resolve(_ spec: Spec, length: Int64) -> (Int64, Int64)? {
        switch spec {
        case .from(let first, let last):
            guard first < length else { return nil }
            return (first, min(last ?? (length - 1), length - 1))
        case .suffix(let count):
            guard count > 0, length > 0 else { return nil }
            return (max(0, length - count), length - 1)
        }
    }

    /// Decimal digits as a number; a value too large for 64 bits saturates (it lies past any file).
    private static func number(_ digits: Substring) -> Int64? {
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        var value: Int64 = 0
        for byte in digits.utf8 {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 0x30))
            if overflow || overflow2 { return .max }
            value = sum
        }
        return value
    }
}
