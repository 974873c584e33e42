/// A program and its arguments, as a route names them.
public struct ProgramCommand: Equatable, Sendable, CustomStringConvertible {
    public var executable: String
    public var arguments: [String]

    public init(executable: String, arguments: [String] = []) {
        self.executable = executable
        self.arguments = arguments
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Splits a command the way a POSIX shell splits words, without running a shell.
    ///
    /// Whitespace separates words; 'single quotes' keep everything literally; "double quotes" keep
    /// everything but `\"`, `\\`, `\$` and `` \` ``, which lose their backslash; a backslash outside
    /// quotes keeps the next character literally. There is deliberately no expansion of variables,
    /// globs, `~` or `$(...)`: what is written is what the program gets.
    public init(parsing text: String) throws(Invalid) {
        var words: [String] = []
        var current = ""
        var inWord = false
        // Unicode scalars, not Characters: a quote or blank followed by a combining mark is still a
        // quote or a blank, as it is to sh.
        var iterator = text.unicodeScalars.makeIterator()
        while let character = iterator.next() {
            switch character {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                while true {
                    guard let next = iterator.next() else { throw Invalid(description: "unclosed ' in '\(text)'") }
                    if next == "'" { break }
                    current.unicodeScalars.append(next)
                }
            case "\"":
                inWord = true
                while true {
                    guard let next = iterator.next() else { throw Invalid(description: "unclosed \" in '\(text)'") }
                    if next == "\"" { break }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { throw Invalid(description: "unclosed \" in '\(text)'") }
                        if !"\"\\$`".unicodeScalars.contains(escaped) { current.append("\\") }
                        current.unicodeScalars.append(escaped)
                    } else {
                        current.unicodeScalars.append(next)
                    }
                }
            case "\\":
                guard let escaped = iterator.next() else { throw Invalid(description: "trailing \\ in '\(text)'") }
                inWord = true
                current.unicodeScalars.append(escaped)
            default:
                inWord = true
                current.unicodeScalars.append(character)
            }
        }
        if inWord { words.append(current) }
        guard let executable = words.first else { throw Invalid(description: "empty command") }
        self.executable = executable
        self.arguments = Array(words.dropFirst())
    }

    public var description: String {
        ([self.executable] + self.arguments).map(Self.quoted).joined(separator: " ")
    }

    /// A word as sh would need it: bare when it has nothing special, else in single quotes (a `'`
    /// inside as `'\''`). Scalars, not Characters, as the parser reads them.
    private static func quoted(_ word: String) -> String {
        let special = " \t\n'\"\\$`".unicodeScalars
        guard word.isEmpty || word.unicodeScalars.contains(where: { special.contains($0) }) else { return word }
        var quoted = "'"
        for scalar in word.unicodeScalars {
            if scalar == "'" { quoted += "'\\''" } else { quoted.unicodeScalars.append(scalar) }
        }
        return quoted + "'"
    }
}
