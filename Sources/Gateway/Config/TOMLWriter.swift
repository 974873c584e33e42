/// Writes a `TOMLTable` back as TOML text that `TOMLParser` reads as an equal table: one
/// `key = value` line per top-level key, deeper tables inline. Used by tests and the fuzzer to
/// check the parser against itself, and by `wsgate check` to show values exactly.
public enum TOMLWriter {
    public static func render(_ table: TOMLTable) -> String {
        table.entries.map { "\(TOMLParser.renderKey($0.key)) = \(Self.render($0.value))\n" }.joined()
    }

    public static func render(_ value: TOMLValue) -> String {
        switch value {
        case .string(let text): Self.quoted(text)
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        case .array(let elements): "[" + elements.map(Self.render).joined(separator: ", ") + "]"
        case .table(let table) where table.entries.isEmpty: "{}"
        case .table(let table):
            "{ " + table.entries.map { "\(TOMLParser.renderKey($0.key)) = \(Self.render($0.value))" }
                .joined(separator: ", ") + " }"
        }
    }

    /// A basic string: `"` and `\` escaped, and every control character.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let digits = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
