/// A value of the TOML subset wsgate's configuration file is written in (see `TOMLParser`).
///
/// Deliberately absent: floats, dates and times, multi-line strings. The file has no use for them,
/// and each is refused by the parser with its line rather than misread.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    /// What the value is, for error messages ("a string", "an array").
    public var kind: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table: its keys in the order written, each with the line that set it, so that a reader
/// of the document can name the line of a key it refuses.
public struct TOMLTable: Equatable, Sendable {
    public struct Entry: Sendable {
        public let key: String
        public internal(set) var value: TOMLValue
        /// 1-based line of the key (of the header, for a table made by `[name]` or `[[name]]`).
        public let line: Int
    }

    /// How the table came to be: what may still be added to it depends on it (TOML 1.0 §Table).
    enum Origin: Sendable {
        /// Made on the way to a deeper key or header (`[a.b]` makes `a`); a later `[a]` may define it.
        case implicit
        /// Defined by a `[name]` header or an element of `[[name]]`: no second header for it.
        case header
        /// Made by dotted keys (`a.b = 1`): more dotted keys may add to it, no header may.
        case dotted
        /// `{ … }` or a static array's element: complete as written.
        case inline
    }

    public internal(set) var entries: [Entry] = []
    /// 1-based line where the table starts (its header, or its first key).
    public internal(set) var line: Int
    var origin: Origin

    init(line: Int, origin: Origin) {
        self.line = line
        self.origin = origin
    }

    public subscript(key: String) -> Entry? {
        self.entries.first { $0.key == key }
    }

    var keys: [String] { self.entries.map(\.key) }

    /// Equal when the same keys hold equal values in the same order; lines and origins are where the
    /// text put things, not what it says.
    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// Why a document was refused, with the 1-based line where the parser found it.
public struct TOMLError: Error, Equatable, CustomStringConvertible, Sendable {
    public let line: Int
    public let message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(self.line): \(self.message)" }
}
