import Reactor

/// Log levels, least severe first, with websocketd's names.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case debug, trace, access, info, error, fatal

    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = level
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .debug: "debug"
        case .trace: "trace"
        case .access: "access"
        case .info: "info"
        case .error: "error"
        case .fatal: "fatal"
        }
    }
}

/// One event per line, `key=value` pairs, to stderr (DESIGN.md, "Conventions").
///
/// Context is added as it becomes known, in websocketd's manner: `log.with("id", 42)` returns a
/// logger whose lines all carry `id=42`. Lines below the level cost one comparison: the fields are
/// autoclosures.
public struct Log: Sendable {
    public let level: LogLevel
    let context: String
    let sink: @Sendable (String) -> Void

    /// Writes whole lines to stderr, each with a single write(2), so lines from one process never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileDescriptor.standardError.writeAll(line)
    }

    public init(level: LogLevel = .access, sink: @escaping @Sendable (String) -> Void = Log.standardError) {
        self.level = level
        self.context = ""
        self.sink = sink
    }

    init(level: LogLevel, context: String, sink: @escaping @Sendable (String) -> Void) {
        self.level = level
        self.context = context
        self.sink = sink
    }

    /// A logger whose lines also carry `key=value`.
    public func with(_ key: String, _ value: some CustomStringConvertible) -> Log {
        let pair = "\(key)=\(Self.quoted(value.description))"
        return Log(level: self.level, context: self.context.isEmpty ? pair : self.context + " " + pair, sink: self.sink)
    }

    public func enabled(_ level: LogLevel) -> Bool { level >= self.level }

    public func debug(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        self.write(.debug, event, fields)
    }

    public func trace(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        self.write(.trace, event, fields)
    }

    public func access(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        self.write(.access, event, fields)
    }

    public func info(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        self.write(.info, event, fields)
    }

    public func error(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        self.write(.error, event, fields)
    }

    public func fatal(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        self.write(.fatal, event, fields)
    }

    func write(_ level: LogLevel, _ event: String, _ fields: () -> [(String, any CustomStringConvertible)]) {
        guard level >= self.level else { return }
        var line = "ts=\(WallClock.timestamp()) level=\(level) event=\(event)"
        if !self.context.isEmpty { line += " " + self.context }
        for (key, value) in fields() { line += " \(key)=\(Self.quoted(value.description))" }
        line += "\n"
        self.sink(line)
    }

    /// Quotes a value that has spaces, quotes, `=` or control characters, so lines stay machine-readable.
    static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.utf8.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x7F }
        guard needsQuotes else { return value }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    result += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
