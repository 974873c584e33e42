/// The head of an HTTP/1.1 request or response: start line and header fields (RFC 9112).
///
/// Header names keep their spelling but are looked up without regard to case; repeated fields are
/// kept in order, as the CGI environment and extension negotiation need them.
public struct HTTPHead: Equatable, Sendable {
    public enum StartLine: Equatable, Sendable {
        case request(method: String, target: String, version: String)
        case response(version: String, status: Int, reason: String)
    }

    public var startLine: StartLine
    public var headers: [(name: String, value: String)]

    public init(startLine: StartLine, headers: [(name: String, value: String)] = []) {
        self.startLine = startLine
        self.headers = headers
    }

    public static func == (lhs: HTTPHead, rhs: HTTPHead) -> Bool {
        lhs.startLine == rhs.startLine && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The request method, or nil for a response.
    public var method: String? {
        if case .request(let method, _, _) = self.startLine { return method }
        return nil
    }

    /// The request target ("/chat?room=1"), or nil for a response.
    public var target: String? {
        if case .request(_, let target, _) = self.startLine { return target }
        return nil
    }

    /// The request target in origin form ("/chat?room=1"), or nil for a response.
    ///
    /// RFC 6455 §4.2.1 lets the target be "an absolute HTTP/HTTPS URI containing the /resource name/"
    /// (RFC 9112 §3.2.2 absolute-form, "http://example.com/chat?room=1"); that form is cut down to the
    /// path and query. Any other target is returned as it is.
    public var originForm: String? {
        guard let target = self.target else { return nil }
        // Most targets start with "/": no scheme to look for.
        guard target.utf8.first != UInt8(ascii: "/"), let colon = target.firstIndex(of: ":"),
            ["http", "https"].contains(target[..<colon].lowercased()), target[colon...].hasPrefix("://")
        else { return target }
        let afterScheme = target[target.index(colon, offsetBy: 3)...]
        guard let end = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        return (afterScheme[end] == "?" ? "/" : "") + afterScheme[end...]
    }

    /// The path part of the request target, without the query.
    public var path: String? {
        self.originForm.map { target in
            target.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(target[..<$0]) } ?? target
        }
    }

    /// The query part of the request target after "?", or "" when there is none.
    public var query: String? {
        self.originForm.map { target in
            target.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(target[target.utf8.index(after: $0)...]) } ?? ""
        }
    }

    /// The value of the field `name` when there is exactly one such field; how many there are.
    /// `values(of:)` for a field that must not repeat, without an array.
    public func onlyValue(of name: String) -> (value: String?, count: Int) {
        var found: String?
        var count = 0
        for field in self.headers where Self.namesMatch(field.name, name) {
            found = field.value
            count += 1
        }
        return (count == 1 ? found : nil, count)
    }

    /// Every value of the field `name`, in order.
    public func values(of name: String) -> [String] {
        self.headers.filter { Self.namesMatch($0.name, name) }.map(\.value)
    }

    /// The single value of `name`; repeated fields are joined with ", " (RFC 9110 §5.3).
    public subscript(name: String) -> String? {
        let values = self.values(of: name)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Whether there is a field `name`.
    public func hasField(_ name: String) -> Bool {
        self.headers.contains { Self.namesMatch($0.name, name) }
    }

    /// Whether `token` (lower-case ASCII) is among the comma-separated tokens of the `name` fields,
    /// compared without regard to case: `tokens(of:)` without allocating.
    public func containsToken(_ token: String, in name: String) -> Bool {
        self.headers.contains { field in
            guard Self.namesMatch(field.name, name) else { return false }
            let bytes = field.value.utf8
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
                var element = bytes[start..<end]
                while let byte = element.first, byte == 0x20 || byte == 0x09 { element = element.dropFirst() }
                while let byte = element.last, byte == 0x20 || byte == 0x09 { element = element.dropLast() }
                if element.count == token.utf8.count {
                    let same = element.withContiguousStorageIfAvailable { element in
                        token.utf8.withContiguousStorageIfAvailable { Self.equalFoldingCase(element, $0) }
                    }
                    if let same, let result = same {
                        if result { return true }
                    } else if Self.namesMatch(String(Substring(element)), token) {
                        return true
                    }
                }
                start = end < bytes.endIndex ? bytes.index(after: end) : end
            }
            return false
        }
    }

    /// The comma-separated tokens of every `name` field, trimmed and lower-cased (RFC 9110 §5.6.1).
    public func tokens(of name: String) -> [String] {
        self.listElements(of: name).map { $0.lowercased() }
    }

    /// The comma-separated elements of every `name` field, trimmed but with their case kept, for lists
    /// whose values are case-sensitive, such as subprotocol names.
    public func listElements(of name: String) -> [String] {
        self.values(of: name).flatMap { $0.splittingBytes(at: UInt8(ascii: ",")) }
            .map { String($0.trimmingHTTPWhitespace()) }
            .filter { !$0.isEmpty }
    }

    /// Field names are tokens, ASCII only: compared byte by byte with ASCII case folded, without
    /// allocating (each handshake looks up a dozen fields among a dozen).
    static func namesMatch(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let fast = a.utf8.withContiguousStorageIfAvailable { a in
            b.utf8.withContiguousStorageIfAvailable { b in Self.equalFoldingCase(a, b) }
        }
        if let fast, let result = fast { return result }
        return Array(a.utf8).withUnsafeBufferPointer { a in
            Array(b.utf8).withUnsafeBufferPointer { b in Self.equalFoldingCase(a, b) }
        }
    }

    /// Whether two byte strings of the same length are equal with ASCII letters' case folded.
    static func equalFoldingCase(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count {
            let x = a[index], y = b[index]
            if x != y && !(x | 0x20 == y | 0x20 && isLetter(x)) { return false }
        }
        return true
    }

    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    /// The head's wire form, ending with the empty line.
    public func serialized() -> [UInt8] {
        // Straight into bytes, sized once: every accepted connection writes one head.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(self.headers.reduce(40) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        func add(_ text: String) { bytes.append(contentsOf: text.utf8) }
        switch self.startLine {
        case .request(let method, let target, let version):
            add(method)
            bytes.append(0x20)
            add(target)
            bytes.append(0x20)
            add(version)
        case .response(let version, let status, let reason):
            add(version)
            bytes.append(0x20)
            add(String(status))
            bytes.append(0x20)
            add(reason)
        }
        bytes.append(0x0D)
        bytes.append(0x0A)
        for (name, value) in self.headers {
            add(name)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(0x20)
            add(value)
            bytes.append(0x0D)
            bytes.append(0x0A)
        }
        bytes.append(0x0D)
        bytes.append(0x0A)
        return bytes
    }
}

// HTTP's delimiters are bytes (RFC 9110 §5.6): trimming and splitting work on the UTF-8 view, so a
// space or comma followed by a combining mark (one Character) is still a space or a comma.
extension Substring {
    package func trimmingHTTPWhitespace() -> Substring {
        let bytes = self.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
        while start < end {
            let before = bytes.index(before: end)
            guard bytes[before] == 0x20 || bytes[before] == 0x09 else { break }
            end = before
        }
        return self[start..<end]
    }
}

extension String {
    /// The parts between each `separator` byte (an ASCII delimiter), empty parts included.
    package func splittingBytes(at separator: UInt8) -> [Substring] {
        var parts: [Substring] = []
        var start = self.utf8.startIndex
        var index = start
        while index < self.utf8.endIndex {
            if self.utf8[index] == separator {
                parts.append(self[start..<index])
                start = self.utf8.index(after: index)
            }
            index = self.utf8.index(after: index)
        }
        parts.append(self[start..<self.utf8.endIndex])
        return parts
    }
}
