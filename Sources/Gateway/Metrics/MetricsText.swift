/// Writes the Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
/// family, then one `name{label="value"} number` line per sample.
///
/// Escaping, as the format specifies: in label values a backslash, a double quote and a line feed
/// become `\\`, `\"` and `\n`; in HELP text a backslash and a line feed. Route patterns come from the
/// command line and may hold any of them.
struct MetricsText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        self.text += "# HELP \(name) \(Self.escaped(help, quotes: false))\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: some Numeric & CustomStringConvertible) {
        self.text += name
        if !labels.isEmpty {
            self.text += "{"
            self.text += labels.map { "\($0.0)=\"\(Self.escaped($0.1, quotes: true))\"" }.joined(separator: ",")
            self.text += "}"
        }
        self.text += " \(Self.number(value))\n"
    }

    /// A histogram's `_bucket` lines (cumulative, ending with `le="+Inf"`), `_sum` and `_count`.
    mutating func histogram(_ name: String, _ labels: [(String, String)], _ histogram: Histogram) {
        var cumulative = 0
        for (index, count) in histogram.counts.enumerated() {
            cumulative += count
            let bound = index < histogram.bounds.count ? Self.number(histogram.bounds[index]) : "+Inf"
            self.sample(name + "_bucket", labels + [("le", bound)], cumulative)
        }
        self.sample(name + "_sum", labels, histogram.sum)
        self.sample(name + "_count", labels, cumulative)
    }

    private static func number(_ value: some CustomStringConvertible) -> String {
        let text = value.description
        // Swift writes whole doubles as "3.0", which the format reads fine; infinities need its spelling.
        switch text {
        case "inf": return "+Inf"
        case "-inf": return "-Inf"
        case "nan": return "NaN"
        default: return text
        }
    }

    static func escaped(_ text: String, quotes: Bool) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A || (quotes && $0 == 0x22) }) else { return text }
        var result = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\"" where quotes: result += "\\\""
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }
}
