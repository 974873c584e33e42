/// The command-line splitter, `ProgramCommand(parsing:)`, and its quoting, `description`.
///
/// Input: text. Properties:
/// - a command that parses, quoted again (by `description`, and by this harness's plain
///   single-quoting) parses to the same words;
/// - any list of words (the input cut at NUL bytes) survives `description` and parsing.
///
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommandLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)

    if let command = try? ProgramCommand(parsing: text) {
        let words = [command.executable] + command.arguments
        roundTrip(words, through: command.description, "description of the parse of \(describe(bytes))")
        roundTrip(words, through: words.map(singleQuoted).joined(separator: " "), "quoted parse of \(describe(bytes))")
    }

    let words = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    if let executable = words.first, !bytes.isEmpty {
        let command = ProgramCommand(executable: executable, arguments: Array(words.dropFirst()))
        roundTrip(words, through: command.description, "description of \(words)")
    }
    return 0
}

func roundTrip(_ words: [String], through line: String, _ what: @autoclosure () -> String) {
    do {
        let parsed = try ProgramCommand(parsing: line)
        let again = [parsed.executable] + parsed.arguments
        require(again == words, "\(what()): \(describe(Array(line.utf8))) parses to \(again), not \(words)")
    } catch {
        require(false, "\(what()): \(describe(Array(line.utf8))) does not parse: \(error)")
    }
}

/// POSIX sh quoting with nothing to interpret: 'it'\''s'.
func singleQuoted(_ word: String) -> String {
    var quoted = "'"
    for scalar in word.unicodeScalars {
        if scalar == "'" { quoted += "'\\''" } else { quoted.unicodeScalars.append(scalar) }
    }
    return quoted + "'"
}
