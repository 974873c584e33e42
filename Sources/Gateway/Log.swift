import Reactor

/// Log levels, least severe first, with websocketd's names and order: a level shows its own lines
/// and those of every level after it, so `access` (the default) shows more than `info`.
///
/// - `debug`: frames, request heads, read and write errors, signals sent to programs.
/// - `trace`: each per-session program's start (with its pid) and exit (with its status).
/// - `access`: one line per session opened and one per session closed.
/// - `info`: start-up (routes, listen addresses), shutdown, refused handshakes, timeouts, slow
///   consumers, long-lived programs started and restarted.
/// - `error`: failures: a program that cannot start, accept errors, a long-lived program's exit.
/// - `fatal`: the server cannot go on.
///
/// Program stderr lines are not on this scale: see `Log.stderr`.
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
    /// Whether programs' stderr lines are logged (when `error` lines are): `--log-stderr`.
    public let logsProgramStderr: Bool
    let context: String
    let sink: @Sendable (String) -> Void

    /// Writes whole lines to stderr, each with a single write(2), so lines from one process never
    /// interleave; through `standardErrorWriter`, so a slow reader never blocks the caller.
    public static let standardError: @Sendable (String) -> Void = { line in
        if let writer = Log.standardErrorWriter {
            writer.write(line)
        } else {
            FileDescriptor.standardError.writeAll(line)
        }
    }

    /// stderr behind a 1 MiB buffer and a thread of its own, so the loop never blocks on a slow
    /// reader of wsgate's stderr; lines beyond the buffer are dropped and counted
    /// (`event=log.dropped lines=N`). What is buffered is written at exit.
    static let standardErrorWriter: BackgroundWriter? = {
        let writer = try? BackgroundWriter(fd: 2, capacity: 1 << 20) { dropped in
            "ts=\(WallClock.timestamp()) level=error event=log.dropped lines=\(dropped)\n"
        }
        writer?.flushAtExit()
        return writer
    }()

    /// Waits (at most 2 s) until every line logged to stderr so far has been written.
    public static func flushStandardError() {
        Log.standardErrorWriter?.flush()
    }

    public init(level: LogLevel = .access, programStderr: Bool = true,
                sink: @escaping @Sendable (String) -> Void = Log.standardError) {
        self.level = level
        self.logsProgramStderr = programStderr
        self.context = ""
        self.sink = sink
    }

    init(level: LogLevel, programStderr: Bool, context: String, sink: @escaping @Sendable (String) -> Void) {
        self.level = level
        self.logsProgramStderr = programStderr
        self.context = context
        self.sink = sink
    }

    /// A logger whose lines also carry `key=value`.
    public func with(_ key: String, _ value: some CustomStringConvertible) -> Log {
        let pair = "\(key)=\(Self.quoted(value.description))"
        return Log(level: self.level, programStderr: self.logsProgramStderr,
                   context: self.context.isEmpty ? pair : self.context + " " + pair, sink: self.sink)
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

    /// A line a program wrote to its stderr, tagged `level=stderr` so that wsgate's own errors
    /// stay apart from a chatty program's output. Logged when `error` lines are (every level but
    /// `fatal`, as websocketd logs stderr as errors) unless `logsProgramStderr` is off.
    public func stderr(_ event: String, _ fields: @autoclosure () -> [(String, any CustomStringConvertible)] = []) {
        guard self.logsProgramStderr, self.enabled(.error) else { return }
        self.write(label: "stderr", event, fields)
    }

    func write(_ level: LogLevel, _ event: String, _ fields: () -> [(String, any CustomStringConvertible)]) {
        guard level >= self.level else { return }
        self.write(label: level.description, event, fields)
    }

    private func write(label: String, _ event: String, _ fields: () -> [(String, any CustomStringConvertible)]) {
        let fields = fields()
        let timestamp = WallClock.timestamp()
        // Built on the stack, each piece one bounded copy, then one String: interpolation, appending
        // to a String, or to an array (over a hundred instructions a piece) cost more than the rest
        // of a churned session's user-space work when the access log is on. A line that does not fit
        // (a long program stderr line) is built in an array instead.
        let line = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> String? in
            var out = LineBuffer(buffer)
            self.compose(&out, timestamp: timestamp, label: label, event: event, fields: fields)
            return out.string
        }
        if let line {
            self.sink(line)
        } else {
            let size = 256 + self.context.utf8.count
                + fields.reduce(0) { $0 + 2 + $1.0.utf8.count + 2 + 4 * $1.1.description.utf8.count }
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: size)
            defer { buffer.deallocate() }
            var out = LineBuffer(buffer)
            self.compose(&out, timestamp: timestamp, label: label, event: event, fields: fields)
            self.sink(out.string ?? "ts=\(timestamp) level=\(label) event=\(event) (line too long to log)\n")
        }
    }

    private func compose(_ out: inout LineBuffer, timestamp: String, label: String, event: String,
                         fields: [(String, any CustomStringConvertible)]) {
        out.add("ts=")
        out.add(timestamp)
        out.add(" level=")
        out.add(label)
        out.add(" event=")
        out.add(event)
        if !self.context.isEmpty {
            out.add(byte: 0x20)
            out.add(self.context)
        }
        for (key, value) in fields {
            out.add(byte: 0x20)
            out.add(key)
            out.add(byte: UInt8(ascii: "="))
            out.add(Self.quoted(value.description))
        }
        out.add(byte: 0x0A)
    }

    /// Quotes a value that has spaces, quotes, `=` or control characters, so lines stay machine-readable.
    static func quoted(_ value: String) -> String {
        func special(_ byte: UInt8) -> Bool { byte <= 0x20 || byte == 0x22 || byte == 0x3D || byte == 0x7F }
        // Over the contiguous bytes when the string has them (native strings do): iterating the
        // UTF-8 view costs several times as much, and every session's context is quoted.
        let needsQuotes = value.isEmpty
            || (value.utf8.withContiguousStorageIfAvailable { $0.contains(where: special) }
                ?? value.utf8.contains(where: special))
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

/// The bytes of one log line in the caller's fixed buffer (on its stack, or allocated for a line too
/// long for that). Each piece is one bounded copy; `string` is nil when a piece did not fit.
private struct LineBuffer {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var count = 0
    private var overflowed = false

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.base = buffer.baseAddress!
        self.capacity = buffer.count
    }

    mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard !self.overflowed, bytes.count <= self.capacity - self.count else {
                self.overflowed = true
                return
            }
            if let source = bytes.baseAddress { (self.base + self.count).update(from: source, count: bytes.count) }
            self.count += bytes.count
        }
    }

    mutating func add(byte: UInt8) {
        guard !self.overflowed, self.count < self.capacity else {
            self.overflowed = true
            return
        }
        self.base[self.count] = byte
        self.count += 1
    }

    var string: String? {
        self.overflowed ? nil : String(decoding: UnsafeBufferPointer(start: self.base, count: self.count), as: UTF8.self)
    }
}
