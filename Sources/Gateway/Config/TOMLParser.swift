/// Parses the TOML subset of wsgate's configuration file: bytes in, a `TOMLTable` or the first
/// error with its line out. Pure: no I/O, no Foundation.
///
/// Accepted (TOML 1.0's rules for each): comments; bare, quoted and dotted keys; `[table]` and
/// `[[array.of.tables]]` headers (dotted, quoted parts); basic strings with their escapes
/// (`\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`) and literal strings; decimal integers (`+`, `-`,
/// `_` between digits); booleans; arrays (over several lines, a trailing comma, comments inside);
/// inline tables. Refused with a message naming the feature: multi-line strings, floats, dates
/// and times, hexadecimal, octal and binary integers. Lines end with LF or CRLF.
public struct TOMLParser {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var root = TOMLTable(line: 1, origin: .header)
    /// The keys of the last header: where the following key/value pairs go.
    private var section: [String] = []

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        try Self.parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        try Self.checkUTF8(bytes)
        var parser = TOMLParser(bytes)
        try parser.parseDocument()
        return parser.root
    }

    /// TOML documents are UTF-8 (§Spec); the line of the first bad sequence is named.
    private static func checkUTF8(_ bytes: [UInt8]) throws(TOMLError) {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var line = 1
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): if scalar.count == 1 && scalar.first == 0x0A { line += 1 }
            case .error: throw TOMLError(line: line, "the file is not valid UTF-8")
            case .emptyInput: return
            }
        }
    }

    // MARK: Lines

    private mutating func parseDocument() throws(TOMLError) {
        while true {
            self.skipBlanks()
            guard let byte = self.peek() else { return }
            switch byte {
            case UInt8(ascii: "#"), 0x0A, 0x0D: break
            case UInt8(ascii: "["): try self.parseHeader()
            default: try self.parseKeyValue()
            }
            try self.expectEndOfLine()
        }
    }

    private mutating func parseHeader() throws(TOMLError) {
        let line = self.line
        self.index += 1
        let isArray = self.peek() == UInt8(ascii: "[")
        if isArray { self.index += 1 }
        self.skipBlanks()
        let path = try self.parseKey()
        self.skipBlanks()
        let closing = isArray ? "]]" : "]"
        for byte in closing.utf8 {
            guard self.peek() == byte else {
                throw self.error("expected '\(closing)' to end the header \(Self.header(path, isArray))")
            }
            self.index += 1
        }
        try Self.descend(&self.root, path.dropLast(), line: line, by: .header) { (table) throws(TOMLError) in
            try Self.define(path.last!, in: &table, line: line, isArray: isArray, header: Self.header(path, isArray))
        }
        self.section = path
    }

    private static func header(_ path: [String], _ isArray: Bool) -> String {
        let name = path.map(Self.renderKey).joined(separator: ".")
        return isArray ? "[[\(name)]]" : "[\(name)]"
    }

    /// The last key of a header: a new table, an implicit one now defined, or one more element of
    /// an array of tables.
    private static func define(_ key: String, in table: inout TOMLTable, line: Int, isArray: Bool,
                               header: String) throws(TOMLError) {
        guard let position = table.entries.firstIndex(where: { $0.key == key }) else {
            let new = TOMLTable(line: line, origin: .header)
            table.entries.append(.init(key: key, value: isArray ? .array([.table(new)]) : .table(new), line: line))
            return
        }
        let existing = table.entries[position]
        switch existing.value {
        case .table(var defined) where !isArray && defined.origin == .implicit:
            defined.origin = .header
            defined.line = line
            table.entries[position].value = .table(defined)
        case .array(var elements) where isArray && Self.isArrayOfTables(elements):
            elements.append(.table(TOMLTable(line: line, origin: .header)))
            table.entries[position].value = .array(elements)
        case .table:
            throw TOMLError(line: line, "\(header): the table is already defined (line \(existing.line))")
        default:
            throw TOMLError(line: line, "\(header): '\(key)' is already \(existing.value.kind) (line \(existing.line))")
        }
    }

    private static func isArrayOfTables(_ elements: [TOMLValue]) -> Bool {
        !elements.isEmpty && elements.allSatisfy { if case .table(let t) = $0 { t.origin == .header } else { false } }
    }

    private mutating func parseKeyValue() throws(TOMLError) {
        let line = self.line
        let key = try self.parseKey()
        self.skipBlanks()
        guard self.peek() == UInt8(ascii: "=") else { throw self.error("expected '=' after the key '\(Self.dotted(key))'") }
        self.index += 1
        self.skipBlanks()
        let value = try self.parseValue()
        try Self.descend(&self.root, self.section[...], line: line, by: .header) { (table) throws(TOMLError) in
            try Self.insert(key[...], value, into: &table, line: line)
        }
    }

    /// Sets a possibly dotted key in `table`, making the dotted key's tables on the way.
    private static func insert(_ key: ArraySlice<String>, _ value: TOMLValue, into table: inout TOMLTable,
                               line: Int) throws(TOMLError) {
        try Self.descend(&table, key.dropLast(), line: line, by: .dotted) { (target) throws(TOMLError) in
            let last = key.last!
            if let existing = target[last] {
                throw TOMLError(line: line, "duplicate key '\(Self.dotted(Array(key)))' (first set on line \(existing.line))")
            }
            target.entries.append(.init(key: last, value: value, line: line))
        }
    }

    /// Runs `body` on the table `path` names below `table`, making implicit tables on the way. A
    /// header's path goes through the last element of an array of tables; a dotted key's only
    /// through tables dotted keys made.
    private static func descend(_ table: inout TOMLTable, _ path: ArraySlice<String>, line: Int, by: TOMLTable.Origin,
                                _ body: (inout TOMLTable) throws(TOMLError) -> Void) throws(TOMLError) {
        guard let key = path.first else { return try body(&table) }
        guard let position = table.entries.firstIndex(where: { $0.key == key }) else {
            var new = TOMLTable(line: line, origin: by == .dotted ? .dotted : .implicit)
            try Self.descend(&new, path.dropFirst(), line: line, by: by, body)
            table.entries.append(.init(key: key, value: .table(new), line: line))
            return
        }
        let existing = table.entries[position]
        switch existing.value {
        case .table(var inner) where inner.origin != .inline && (by != .dotted || inner.origin == .dotted):
            try Self.descend(&inner, path.dropFirst(), line: line, by: by, body)
            table.entries[position].value = .table(inner)
        case .array(var elements) where by == .header && Self.isArrayOfTables(elements):
            guard case .table(var inner) = elements[elements.count - 1] else { return }
            try Self.descend(&inner, path.dropFirst(), line: line, by: by, body)
            elements[elements.count - 1] = .table(inner)
            table.entries[position].value = .array(elements)
        case .table:
            throw TOMLError(line: line, "cannot add to the table '\(key)' defined on line \(existing.line) from here")
        default:
            throw TOMLError(line: line, "'\(key)' is already \(existing.value.kind) (line \(existing.line))")
        }
    }

    // MARK: Keys

    /// A key, dotted or not: its parts.
    private mutating func parseKey() throws(TOMLError) -> [String] {
        var parts = [try self.parseSimpleKey()]
        while true {
            let mark = self.index
            self.skipBlanks()
            guard self.peek() == UInt8(ascii: ".") else {
                self.index = mark
                return parts
            }
            self.index += 1
            self.skipBlanks()
            parts.append(try self.parseSimpleKey())
        }
    }

    private mutating func parseSimpleKey() throws(TOMLError) -> String {
        switch self.peek() {
        case UInt8(ascii: "\""): return try self.parseBasicString()
        case UInt8(ascii: "'"): return try self.parseLiteralString()
        default:
            let start = self.index
            while let byte = self.peek(), Self.isBareKeyByte(byte) { self.index += 1 }
            guard self.index > start else { throw self.error("expected a key, found \(self.found)") }
            return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        }
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    // MARK: Values

    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard let byte = self.peek() else { throw self.error("expected a value, found the end of the file") }
        switch byte {
        case UInt8(ascii: "\""):
            if self.starts(with: "\"\"\"") { throw self.error("multi-line strings are not supported") }
            return .string(try self.parseBasicString())
        case UInt8(ascii: "'"):
            if self.starts(with: "'''") { throw self.error("multi-line strings are not supported") }
            return .string(try self.parseLiteralString())
        case UInt8(ascii: "["): return try self.parseArray()
        case UInt8(ascii: "{"): return try self.parseInlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "i"), UInt8(ascii: "n"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return try self.parseScalarWord()
        default:
            throw self.error("expected a value, found \(self.found)")
        }
    }

    /// true, false, an integer, or one of the refused forms (floats, dates, other bases).
    private mutating func parseScalarWord() throws(TOMLError) -> TOMLValue {
        let start = self.index
        while let byte = self.peek(), Self.isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: ":")
        {
            self.index += 1
        }
        let word = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        switch word {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        default: break
        }
        let unsigned = word.first == "+" || word.first == "-" ? word.dropFirst() : word[...]
        if unsigned == "inf" || unsigned == "nan" { throw self.error("floats are not supported ('\(word)')") }
        if word.contains(":") || (unsigned.count >= 10 && unsigned.dropFirst(4).first == "-") {
            throw self.error("dates and times are not supported ('\(word)')")
        }
        if unsigned.hasPrefix("0x") || unsigned.hasPrefix("0o") || unsigned.hasPrefix("0b") {
            throw self.error("only decimal integers are supported ('\(word)')")
        }
        guard unsigned.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else {
            if word.contains(".") || unsigned.contains("e") || unsigned.contains("E") {
                throw self.error("floats are not supported ('\(word)')")
            }
            throw self.error("expected a value, found '\(word)'")
        }
        let digits = unsigned.split(separator: "_", omittingEmptySubsequences: false)
        guard !digits.contains(where: \.isEmpty), unsigned.first != "0" || unsigned.count == 1 else {
            throw self.error("'\(word)' is not an integer (no leading zeros; '_' only between digits)")
        }
        guard let value = Int(String(word.first == "-" ? "-" : "") + digits.joined()) else {
            throw self.error("the integer '\(word)' is out of range")
        }
        return .integer(value)
    }

    private mutating func parseArray() throws(TOMLError) -> TOMLValue {
        let line = self.line
        self.index += 1
        var elements: [TOMLValue] = []
        while true {
            try self.skipBlanksAndNewlines()
            if self.peek() == UInt8(ascii: "]") { break }
            guard self.peek() != nil else { throw TOMLError(line: line, "the array opened on this line is not closed") }
            var element = try self.parseValue()
            if case .table(var table) = element {
                table.origin = .inline
                element = .table(table)
            }
            elements.append(element)
            try self.skipBlanksAndNewlines()
            if self.peek() == UInt8(ascii: ",") {
                self.index += 1
            } else if self.peek() != UInt8(ascii: "]") {
                guard self.peek() != nil else { throw TOMLError(line: line, "the array opened on this line is not closed") }
                throw self.error("expected ',' or ']' in the array, found \(self.found)")
            }
        }
        self.index += 1
        return .array(elements)
    }

    /// `{ key = value, … }` on one line, no trailing comma (TOML 1.0).
    private mutating func parseInlineTable() throws(TOMLError) -> TOMLValue {
        let line = self.line
        self.index += 1
        var table = TOMLTable(line: line, origin: .dotted)
        self.skipBlanks()
        if self.peek() == UInt8(ascii: "}") {
            self.index += 1
            table.origin = .inline
            return .table(table)
        }
        while true {
            self.skipBlanks()
            let key = try self.parseKey()
            self.skipBlanks()
            guard self.peek() == UInt8(ascii: "=") else { throw self.error("expected '=' after the key '\(Self.dotted(key))'") }
            self.index += 1
            self.skipBlanks()
            try Self.insert(key[...], try self.parseValue(), into: &table, line: line)
            self.skipBlanks()
            switch self.peek() {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                table.origin = .inline
                return .table(table)
            case 0x0A, 0x0D, nil: throw TOMLError(line: line, "an inline table must be closed on the line it opens")
            default: throw self.error("expected ',' or '}' in the inline table, found \(self.found)")
            }
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(TOMLError) -> String {
        self.index += 1
        var out: [UInt8] = []
        while true {
            guard let byte = self.peek(), byte != 0x0A else { throw self.error("the string is not closed on its line") }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"): try self.parseEscape(into: &out)
            default:
                guard !Self.isControl(byte) else { throw self.error("control character \(Self.hex(byte)) in a string (escape it)") }
                out.append(byte)
            }
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        guard let byte = self.peek() else { throw self.error("the string is not closed on its line") }
        self.index += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C,
        ]
        if let replacement = simple[byte] {
            out.append(replacement)
            return
        }
        let digits = byte == UInt8(ascii: "u") ? 4 : byte == UInt8(ascii: "U") ? 8 : 0
        guard digits > 0 else {
            throw self.error("unknown escape '\\\(byte < 0x80 ? String(UnicodeScalar(byte)) : "…")' in a string")
        }
        let end = self.index + digits
        guard end <= self.bytes.count,
              let code = UInt32(String(decoding: self.bytes[self.index..<end], as: UTF8.self), radix: 16),
              self.bytes[self.index..<end].allSatisfy({ Self.isHexDigit($0) })
        else { throw self.error("\\\(UnicodeScalar(byte)) needs \(digits) hexadecimal digits") }
        guard let scalar = Unicode.Scalar(code) else {
            throw self.error("\\\(UnicodeScalar(byte))\(String(code, radix: 16, uppercase: true)) is not a Unicode scalar value")
        }
        self.index = end
        out.append(contentsOf: String(scalar).utf8)
    }

    private mutating func parseLiteralString() throws(TOMLError) -> String {
        self.index += 1
        let start = self.index
        while true {
            guard let byte = self.peek(), byte != 0x0A else { throw self.error("the string is not closed on its line") }
            if byte == UInt8(ascii: "'") { break }
            guard !Self.isControl(byte) else { throw self.error("control character \(Self.hex(byte)) in a literal string") }
            self.index += 1
        }
        defer { self.index += 1 }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    // MARK: Bytes

    private func peek() -> UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private func starts(with text: String) -> Bool {
        self.bytes[self.index...].starts(with: text.utf8)
    }

    private mutating func skipBlanks() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x09 { self.index += 1 }
    }

    /// Inside an array: blanks, comments and line ends.
    private mutating func skipBlanksAndNewlines() throws(TOMLError) {
        while true {
            self.skipBlanks()
            switch self.peek() {
            case UInt8(ascii: "#"), 0x0A, 0x0D: try self.expectEndOfLine()
            default: return
            }
        }
    }

    /// Blanks, an optional comment, then LF, CRLF or the end of the file.
    private mutating func expectEndOfLine() throws(TOMLError) {
        self.skipBlanks()
        if self.peek() == UInt8(ascii: "#") {
            while let byte = self.peek(), byte != 0x0A, byte != 0x0D {
                guard !Self.isControl(byte) else { throw self.error("control character \(Self.hex(byte)) in a comment") }
                self.index += 1
            }
        }
        switch self.peek() {
        case nil: return
        case 0x0A:
            self.index += 1
            self.line += 1
        case 0x0D where self.index + 1 < self.bytes.count && self.bytes[self.index + 1] == 0x0A:
            self.index += 2
            self.line += 1
        default:
            throw self.error("expected the end of the line, found \(self.found)")
        }
    }

    /// What is at the cursor, for an error message.
    private var found: String {
        guard let byte = self.peek() else { return "the end of the file" }
        switch byte {
        case 0x0A, 0x0D: return "the end of the line"
        case 0x21..<0x7F: return "'\(UnicodeScalar(byte))'"
        default: return Self.hex(byte)
        }
    }

    private func error(_ message: String) -> TOMLError { TOMLError(line: self.line, message) }

    /// TOML allows tab and no other control character in strings and comments.
    private static func isControl(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
    }

    static func dotted(_ key: [String]) -> String { key.map(Self.renderKey).joined(separator: ".") }

    /// A key as written back: bare when it can be, else a basic string.
    static func renderKey(_ key: String) -> String {
        !key.isEmpty && key.utf8.allSatisfy(Self.isBareKeyByte) ? key : TOMLWriter.quoted(key)
    }
}
