/// Splits `--flag value`, `--flag=value` and websocketd's `-flag value` arguments; knows nothing of
/// what the flags mean.
struct OptionParser {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private var arguments: ArraySlice<String>

    init(_ arguments: [String]) {
        self.arguments = arguments[...]
    }

    /// The next flag and its value, or nil at the end.
    ///
    /// A flag is written `--flag` or, as Go's flag package (and so websocketd) accepts it, `-flag`;
    /// either may carry `=value`. The flag comes back in its canonical spelling (`--port` for
    /// `-port`). A flag in `switches` takes no separate value, but may be written `--flag=true` or
    /// `--flag=false` (websocketd's spelling). The first argument that is not a flag (`-` is not
    /// one) ends the flags, and so does `--`, which is dropped: what follows comes back as `.command`.
    mutating func next(switches: Set<String>, valued: Set<String>) throws(Failure) -> Item? {
        guard let argument = self.arguments.popFirst() else { return nil }
        if argument == "--" {
            defer { self.arguments = [] }
            return self.arguments.isEmpty ? nil : .command(Array(self.arguments))
        }
        guard argument.hasPrefix("-"), argument != "-" else {
            defer { self.arguments = [] }
            return .command([argument] + self.arguments)
        }
        let equals = argument.firstIndex(of: "=")
        let typed = equals.map { String(argument[..<$0]) } ?? argument
        guard let flag = Self.canonical(typed, switches: switches, valued: valued) else {
            throw Failure(description: "unknown flag \(typed) (see wsgate --help)")
        }
        if let equals {
            let value = String(argument[argument.index(after: equals)...])
            if switches.contains(flag), value != "true", value != "false" {
                throw Failure(description: "\(typed) takes no value (or =true, =false)")
            }
            return .flag(flag, value)
        }
        if switches.contains(flag) { return .flag(flag, "true") }
        guard let value = self.arguments.popFirst() else { throw Failure(description: "\(typed) needs a value") }
        return .flag(flag, value)
    }

    /// A flag as the sets spell it: as typed when they know it so (`--port`, `-h`), else with the
    /// second dash Go's single-dash form leaves out (`-port`).
    private static func canonical(_ typed: String, switches: Set<String>, valued: Set<String>) -> String? {
        for candidate in [typed, "-" + typed] where switches.contains(candidate) || valued.contains(candidate) {
            return candidate
        }
        return nil
    }

    enum Item {
        case flag(String, String)
        case command([String])
    }

    /// "30s", "500ms", "2m", "1h", or a bare number of seconds.
    static func duration(_ text: String, flag: String) throws(Failure) -> Duration {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if let value = Int64(number), value >= 0, !(suffix == "m" && text.hasSuffix("ms")) {
                return .milliseconds(value * milliseconds)
            }
        }
        if let seconds = Int64(text), seconds >= 0 { return .seconds(seconds) }
        throw Failure(description: "\(flag): '\(text)' is not a duration (e.g. 30s, 500ms, 2m)")
    }

    /// "1MiB", "64KiB", "512KB", "1048576".
    static func size(_ text: String, flag: String) throws(Failure) -> Int {
        let units: [(String, Int)] = [("KiB", 1024), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
                                      ("GB", 1_000_000_000), ("K", 1024), ("M", 1 << 20), ("B", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Int(text.dropLast(suffix.count)), value > 0 { return value * scale }
        }
        if let value = Int(text), value > 0 { return value }
        throw Failure(description: "\(flag): '\(text)' is not a size (e.g. 1MiB, 64KiB, 65536)")
    }

    static func integer(_ text: String, flag: String, range: ClosedRange<Int>) throws(Failure) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw Failure(description: "\(flag): '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}
