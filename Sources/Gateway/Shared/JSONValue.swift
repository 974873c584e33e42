import WebSocket

/// A JSON value (RFC 8259), for the `shared-json` protocol: small, strict, and bounded.
///
/// Deliberately not done: numbers keep only a `Double` (ids and close codes fit exactly), and
/// duplicate object keys keep the last value, as most parsers do.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Why a text is not one JSON value; `offset` is where the parser gave up.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        let reason: String
        let offset: Int
        var description: String { "\(self.reason) at byte \(self.offset)" }
    }

    /// Parses exactly one value, with optional whitespace around it.
    /// - Parameter maxDepth: how deeply arrays and objects may nest, so a line of `[[[[…` cannot
    ///   exhaust the stack.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32) throws(Invalid) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("text after the value") }
        return value
    }

    static func parse(_ text: String, maxDepth: Int = 32) throws(Invalid) -> JSONValue {
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { raw in Result { () throws(Invalid) in try parse(raw, maxDepth: maxDepth) } }
        return try result.get()
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number as an Int when it is integral and in range.
    var intValue: Int? {
        guard case .number(let value) = self, value == value.rounded(), abs(value) < 9_007_199_254_740_992 else { return nil }
        return Int(value)
    }

    /// Appends `text` as a JSON string literal: quotes, backslash and control characters escaped,
    /// everything else as its UTF-8 bytes.
    static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

/// A recursive-descent parser over bytes; `index` is the next byte to read.
private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var index = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func failure(_ reason: String) -> JSONValue.Invalid {
        JSONValue.Invalid(reason: reason, offset: self.index)
    }

    var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { self.index += 1 }
    }

    mutating func expect(_ literal: StaticString) throws(JSONValue.Invalid) {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.failure("unexpected end") }
        for offset in 0..<count where self.bytes[self.index + offset] != literal.utf8Start[offset] {
            throw self.failure("invalid literal")
        }
        self.index += count
    }

    mutating func value(depth: Int) throws(JSONValue.Invalid) -> JSONValue {
        guard let byte = self.current else { throw self.failure("unexpected end") }
        switch byte {
        case UInt8(ascii: "{"): return try self.object(depth: depth + 1)
        case UInt8(ascii: "["): return try self.array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "t"): try self.expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try self.expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try self.expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try self.number())
        default: throw self.failure("unexpected character")
        }
    }

    mutating func object(depth: Int) throws(JSONValue.Invalid) -> JSONValue {
        guard depth <= self.maxDepth else { throw self.failure("nested too deeply") }
        self.index += 1
        var members: [String: JSONValue] = [:]
        self.skipWhitespace()
        if self.current == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.current == UInt8(ascii: "\"") else { throw self.failure("expected a key") }
            let key = try self.string()
            self.skipWhitespace()
            guard self.current == UInt8(ascii: ":") else { throw self.failure("expected ':'") }
            self.index += 1
            self.skipWhitespace()
            members[key] = try self.value(depth: depth)
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"): self.index += 1; return .object(members)
            default: throw self.failure("expected ',' or '}'")
            }
        }
    }

    mutating func array(depth: Int) throws(JSONValue.Invalid) -> JSONValue {
        guard depth <= self.maxDepth else { throw self.failure("nested too deeply") }
        self.index += 1
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.current == UInt8(ascii: "]") {
            self.index += 1
            return .array(elements)
        }
        while true {
            self.skipWhitespace()
            elements.append(try self.value(depth: depth))
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "]"): self.index += 1; return .array(elements)
            default: throw self.failure("expected ',' or ']'")
            }
        }
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func number() throws(JSONValue.Invalid) -> Double {
        let start = self.index
        if self.current == UInt8(ascii: "-") { self.index += 1 }
        guard let first = self.current, (0x30...0x39).contains(first) else { throw self.failure("expected a digit") }
        self.index += 1
        if first != 0x30 { self.skipDigits() }
        if self.current == UInt8(ascii: ".") {
            self.index += 1
            guard self.skipDigits() > 0 else { throw self.failure("expected a digit") }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.index += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.index += 1 }
            guard self.skipDigits() > 0 else { throw self.failure("expected a digit") }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw self.failure("number out of range") }
        return value
    }

    @discardableResult
    mutating func skipDigits() -> Int {
        let start = self.index
        while let byte = self.current, (0x30...0x39).contains(byte) { self.index += 1 }
        return self.index - start
    }

    /// A string literal, its escapes resolved; raw bytes must be UTF-8 and no control characters.
    mutating func string() throws(JSONValue.Invalid) -> String {
        self.index += 1
        let start = self.index
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while let byte = self.current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw self.failure("control character in a string") }
            self.index += 1
        }
        var result = Array(UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index]))
        while true {
            guard let byte = self.current else { throw self.failure("unterminated string") }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard UTF8Validator.isValid(result) else { throw self.failure("string is not UTF-8") }
                return String(decoding: result, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try self.escape(into: &result)
            case 0..<0x20:
                throw self.failure("control character in a string")
            default:
                result.append(byte)
            }
        }
    }

    mutating func escape(into result: inout [UInt8]) throws(JSONValue.Invalid) {
        guard let byte = self.current else { throw self.failure("unterminated string") }
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(byte)
        case UInt8(ascii: "b"): result.append(0x08)
        case UInt8(ascii: "f"): result.append(0x0C)
        case UInt8(ascii: "n"): result.append(0x0A)
        case UInt8(ascii: "r"): result.append(0x0D)
        case UInt8(ascii: "t"): result.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try self.hexQuad()
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard self.current == UInt8(ascii: "\\") else { throw self.failure("lone surrogate") }
                self.index += 1
                guard self.current == UInt8(ascii: "u") else { throw self.failure("lone surrogate") }
                self.index += 1
                let low = try self.hexQuad()
                guard (0xDC00..<0xE000).contains(low) else { throw self.failure("lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw self.failure("lone surrogate")
            }
            result.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
        default:
            throw self.failure("invalid escape")
        }
    }

    mutating func hexQuad() throws(JSONValue.Invalid) -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.failure("unterminated escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw self.failure("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }
}
