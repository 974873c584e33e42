import Foundation
import Gateway
import Testing

@testable import wsgate

/// `wsgate --help` against the parser and the README: every flag the parser knows is listed in
/// both, and the parser has a meaning for every flag it lists.
@Suite("wsgate --help")
struct HelpTests {
    static let readme: String = (try? String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)) ?? ""

    /// Every spelling the parser accepts, from the sets it parses with.
    static let parsedSpellings = ServeFlags.switches.union(ServeFlags.valued).sorted()

    @Test(arguments: parsedSpellings)
    func helpListsEveryFlagTheParserAccepts(flag: String) {
        #expect(mentions(usage, flag), "--help does not list \(flag)")
    }

    @Test(arguments: parsedSpellings)
    func readmeListsEveryFlagTheParserAccepts(flag: String) {
        #expect(!Self.readme.isEmpty, "README.md not found")
        #expect(mentions(Self.readme, flag), "README.md does not mention \(flag)")
    }

    /// A flag in the table that the parser has no case for would be refused as unknown.
    @Test(arguments: ServeFlags.all.map(\.name))
    func parserHasAMeaningForEveryListedFlag(flag: String) throws {
        let entry = try #require(ServeFlags.all.first { $0.name == flag })
        var arguments = [flag]
        if let placeholder = entry.value { arguments.append(Self.sample(for: placeholder)) }
        do {
            _ = try parseCommandLine(arguments + ["--route", "/help-test=echo"])
        } catch {
            #expect(!error.description.contains("unknown flag"), "\(arguments): \(error)")
        }
    }

    /// The single-dash spelling (Go's flag package, websocketd's) of every long flag.
    @Test(arguments: ServeFlags.all.map(\.name))
    func parserAcceptsEveryFlagWithOneDash(flag: String) throws {
        let entry = try #require(ServeFlags.all.first { $0.name == flag })
        let single = String(flag.dropFirst())
        var parser = OptionParser(entry.isSwitch ? [single, "cat"] : [single, "x"])
        let item = try parser.next(switches: ServeFlags.switches, valued: ServeFlags.valued)
        guard case .flag(let name, let value) = item else {
            Issue.record("\(single) gave \(String(describing: item))")
            return
        }
        #expect(name == flag)
        #expect(value == (entry.isSwitch ? "true" : "x"))
        var withEquals = OptionParser([single + "=" + (entry.isSwitch ? "false" : "y")])
        guard case .flag(let name, let value) = try withEquals.next(switches: ServeFlags.switches, valued: ServeFlags.valued)
        else { throw TestFailure("\(single)=… is not a flag") }
        #expect(name == flag)
        #expect(value == (entry.isSwitch ? "false" : "y"))
    }

    @Test func helpNamesEveryModeAndBuiltIn() {
        for mode in ProgramMode.allCases { #expect(mentions(usage, mode.rawValue), "\(mode)") }
        for name in ["echo", "broadcast", "[MODE:]COMMAND", "--dir [MODE:]DIR"] { #expect(usage.contains(name), "\(name)") }
    }

    @Test func helpPointsToEachSubcommandsOwnHelp() {
        for command in ["client", "send", "bench"] {
            #expect(usage.contains("wsgate \(command) URL"), "\(command)")
            #expect(usage.contains("(wsgate \(command) --help)"), "\(command)")
        }
    }

    @Test func helpGroupsFlagsUnderHeadings() {
        for group in ServeFlag.Group.allCases { #expect(usage.contains("\n\(group.rawValue):\n"), "\(group)") }
    }

    @Test func helpFitsInHundredColumns() {
        let long = usage.split(separator: "\n").filter { $0.count > 100 }
        #expect(long.isEmpty, "\(long)")
    }

    /// The binary prints exactly this text, for --help, -h, -help and `wsgate help`.
    @Test(arguments: [["--help"], ["-h"], ["-help"], ["help"]])
    func binaryPrintsTheUsage(arguments: [String]) throws {
        let wsgate = try WsgateProcess(arguments)
        #expect(wsgate.waitForExit(timeout: 10) == 0)
        #expect(wsgate.stdout == usage)
        #expect(wsgate.stderr.isEmpty)
    }

    /// A value of the kind the placeholder names, valid where that is cheap.
    static func sample(for placeholder: String) -> String {
        switch placeholder {
        case "N", "MS": "1"
        case "DUR": "1s"
        case "SIZE": "1KiB"
        case "LEVEL": "info"
        case "ADDR": "127.0.0.1"
        case "PATH=HANDLER": "/sample=echo"
        case "PATH=COMMAND": "/sample=cat"
        case "[MODE:]DIR": repositoryRoot + "/handlers"
        case "'NAME: VALUE'": "X-Sample: 1"
        default: "sample"
        }
    }
}

/// Whether `text` has `flag` as a whole word: `--ssl` is not found in `--sslcert`, nor `-h` in `--help`.
func mentions(_ text: String, _ flag: String) -> Bool {
    func isNamePart(_ character: Character?) -> Bool {
        guard let character else { return false }
        return character.isLetter || character.isNumber || character == "-" || character == "_"
    }
    var searchFrom = text.startIndex
    while let range = text.range(of: flag, range: searchFrom..<text.endIndex) {
        let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
        let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
        if !isNamePart(before) && !isNamePart(after) { return true }
        searchFrom = range.upperBound
    }
    return false
}
