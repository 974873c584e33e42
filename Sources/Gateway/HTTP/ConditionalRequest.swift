import WebSocket

/// The validators of a static file and the decisions conditional requests make with them
/// (RFC 9110 §13): whether a GET gets 304, and whether an `If-Range` lets a `Range` apply.
///
/// The entity tag is made of the file's size and modification time in nanoseconds, as nginx and
/// Apache make theirs (nginx from size and seconds): it changes whenever either does, which is
/// strong enough for files replaced as a whole. It is sent as a strong tag, so `If-Range` can
/// use it.
public struct FileValidators: Equatable, Sendable {
    public var size: Int64
    public var modifiedSeconds: Int64
    public var modifiedNanoseconds: Int64

    public init(size: Int64, modifiedSeconds: Int64, modifiedNanoseconds: Int64) {
        self.size = size
        self.modifiedSeconds = modifiedSeconds
        self.modifiedNanoseconds = modifiedNanoseconds
    }

    /// `"<size in hex>-<mtime ns in hex>"`, quoted.
    public var entityTag: String {
        let nanoseconds = self.modifiedSeconds &* 1_000_000_000 &+ self.modifiedNanoseconds
        return "\"\(String(self.size, radix: 16))-\(String(UInt64(bitPattern: nanoseconds), radix: 16))\""
    }

    public var lastModified: String { HTTPDate.format(self.modifiedSeconds) }

    /// Whether a GET or HEAD with these fields gets 304 Not Modified.
    ///
    /// RFC 9110 §13.2.2: `If-None-Match` first, compared weakly (a `W/` tag matches its strong
    /// twin), `*` matching any current file; only when it is absent does `If-Modified-Since` count,
    /// true when the file is not newer than the date (to the second, the resolution of the date).
    /// A date that does not parse is ignored (§13.1.3).
    public func notModified(ifNoneMatch: String?, ifModifiedSince: String?) -> Bool {
        if let ifNoneMatch {
            let tags = ifNoneMatch.splittingBytes(at: UInt8(ascii: ",")).map { String($0.trimmingHTTPWhitespace()) }
            return tags.contains { $0 == "*" || Self.opaque($0) == Self.opaque(self.entityTag) }
        }
        if let ifModifiedSince, let date = HTTPDate.parse(ifModifiedSince) {
            return self.modifiedSeconds <= date
        }
        return false
    }

    /// Whether `Range` applies given `If-Range` (RFC 9110 §13.1.5): always without one; with an
    /// entity tag, only when it is this strong tag exactly; with a date, only when it is exactly
    /// the file's modification time (this server's Last-Modified is a strong validator only then).
    public func rangeApplies(ifRange: String?) -> Bool {
        guard let ifRange = ifRange.map({ String($0[...].trimmingHTTPWhitespace()) }) else { return true }
        if ifRange.hasPrefix("\"") || ifRange.hasPrefix("W/") { return ifRange == self.entityTag }
        return HTTPDate.parse(ifRange) == self.modifiedSeconds
    }

    private static func opaque(_ tag: String) -> Substring {
        tag.hasPrefix("W/") ? tag.dropFirst(2) : tag[...]
    }
}
