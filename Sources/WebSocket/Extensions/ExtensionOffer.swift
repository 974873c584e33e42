/// One element of a `Sec-WebSocket-Extensions` field: an extension name and its parameters, in order
/// (RFC 6455 §9.1).
///
///     Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate
///
/// holds two offers. Names and parameter names are compared without regard to case; a quoted value
/// is unquoted (RFC 6455 §9.1: "the value … MUST conform to the token ABNF" once unescaped).
public struct ExtensionOffer: Equatable, Sendable {
    public struct Parameter: Equatable, Sendable {
        public var name: String
        /// nil for a parameter given without "=value".
        public var value: String?

        public init(_ name: String, _ value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    public var name: String
    public var parameters: [Parameter]

    public init(name: String, parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// The field's wire form: `name; a; b=1`.
    public var headerValue: String {
        ([self.name] + self.parameters.map { parameter in
            parameter.value.map { "\(parameter.name)=\($0)" } ?? parameter.name
        }).joined(separator: "; ")
    }

    /// Parses every value of the field into offers, in order.
    ///
    /// An element that does not parse is dropped alone (it stands for an offer that cannot be
    /// accepted), so one malformed element does not cost the others; the result is lower-cased.
    public static func parse(_ values: [String]) -> [ExtensionOffer] {
        values.flatMap { splitOutsideQuotes($0, on: ",") }.compactMap(parseElement)
    }

    static func parseElement(_ element: Substring) -> ExtensionOffer? {
        let parts = splitOutsideQuotes(element, on: ";").map { $0.trimmingHTTPWhitespace() }
        guard let first = parts.first, isToken(first) else { return nil }
        var offer = ExtensionOffer(name: first.lowercased())
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "=") else {
                guard isToken(part) else { return nil }
                offer.parameters.append(Parameter(part.lowercased()))
                continue
            }
            let name = part[..<equals].trimmingHTTPWhitespace()
            var value = part[part.index(after: equals)...].trimmingHTTPWhitespace()
            if value.hasPrefix("\"") {
                guard value.count >= 2, value.hasSuffix("\"") else { return nil }
                value = value.dropFirst().dropLast()
                value = Substring(value.replacingBackslashEscapes())
            }
            guard isToken(name), isToken(value) else { return nil }
            offer.parameters.append(Parameter(name.lowercased(), String(value)))
        }
        return offer
    }

    static func splitOutsideQuotes(_ text: some StringProtocol, on separator: Character) -> [Substring] {
        let text = Substring(text)
        var pieces: [Substring] = []
        var start = text.startIndex
        var quoted = false
        var escaped = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if quoted && character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if !quoted && character == separator {
                pieces.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        pieces.append(text[start...])
        return pieces.filter { !$0.trimmingHTTPWhitespace().isEmpty || separator == ";" }
    }

    /// RFC 9110 §5.6.2 token characters.
    static func isToken(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }
}

extension Substring {
    fileprivate func replacingBackslashEscapes() -> String {
        var result = ""
        var escaped = false
        for character in self {
            if !escaped && character == "\\" {
                escaped = true
                continue
            }
            escaped = false
            result.append(character)
        }
        return result
    }
}
