/// `RequestPath`, the path normaliser of `--staticdir` and `--cgidir`.
///
/// Input: a request path's bytes. Properties:
/// - what it accepts can never name anything outside the directory: every segment is non-empty,
///   valid UTF-8, does not start with "." (so no `.` or `..`, no dotfile) and holds no "/" or NUL,
///   so a path joined from them below a root has no `..` component and stays below it;
/// - it refuses every input with a NUL byte once decoded, and every raw segment starting with ".";
/// - a round trip: the accepted segments, each byte percent-encoded again, parse to the same path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestPath(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    let raw = String(decoding: bytes, as: UTF8.self)
    switch RequestPath.parse(raw) {
    case .failure(let refusal):
        require(refusal.status == 400 || refusal.status == 404, "status \(refusal.status) for \(describe(bytes))")
    case .success(let path):
        for segment in path.segments {
            let utf8 = Array(segment.utf8)
            require(!utf8.isEmpty, "empty segment from \(describe(bytes))")
            require(utf8.first != UInt8(ascii: "."), "segment \(describe(utf8)) starts with . from \(describe(bytes))")
            require(!utf8.contains(0) && !utf8.contains(UInt8(ascii: "/")), "segment \(describe(utf8)) holds / or NUL")
        }
        // Bytes, not Characters: a combining mark after "/" makes one Character of the two.
        let joined = Array(("/srv/root/" + path.segments.joined(separator: "/")).utf8)
        let components = joined.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        require(!components.contains { $0.elementsEqual("..".utf8) || $0.elementsEqual(".".utf8) },
                "\(describe(joined)) has a dot component")
        require(joined.starts(with: "/srv/root/".utf8) && !joined.contains(0), "\(describe(joined)) leaves the root")
        require(!raw.utf8.split(separator: UInt8(ascii: "/")).contains { $0.first == UInt8(ascii: ".") },
                "a raw segment starting with . was accepted: \(describe(bytes))")
        var encoded = ""
        for segment in path.segments {
            encoded += "/" + segment.utf8.map { "%" + String($0, radix: 16, uppercase: true).leftPadded }.joined()
        }
        if path.segments.isEmpty { encoded = "/" } else if path.trailingSlash { encoded += "/" }
        let again = RequestPath.parse(encoded)
        require(again == .success(path), "round trip of \(describe(bytes)) through \(encoded) gave \(again)")
    }
    return 0
}

extension String {
    fileprivate var leftPadded: String { self.count == 1 ? "0" + self : self }
}
