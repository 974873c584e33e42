import Foundation
import Testing

/// The flags of one `--help` line ("  -n, --replies N   stop after…"), and whether they take a value.
private func helpFlags(_ usage: String) -> [(names: [String], takesValue: Bool)] {
    usage.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("  -") else { return nil }
        // The label ends where two spaces begin the text (a long label has the text on the next line).
        let label = String(line.dropFirst(2)).components(separatedBy: "  ")[0]
        var names: [String] = []
        var takesValue = false
        for word in label.split(separator: " ") {
            let name = word.hasSuffix(",") ? word.dropLast() : word
            if name.hasPrefix("-") { names.append(String(name)) } else { takesValue = true }
        }
        return (names, takesValue)
    }
}

/// A valid value for a flag's placeholder, so that the flag itself is what is tested.
private func sampleValue(_ flag: String) -> String {
    switch flag {
    case "--header": "X-Test: 1"
    case "--exec": "cat"
    case "--origin": "http://example.com"
    case "--subprotocol": "chat"
    case "--linger", "--wait", "--timeout", "--duration": "1s"
    default: "1"
    }
}

struct HelpCase: Sendable, CustomTestStringConvertible {
    let command: String
    /// Every flag the command has, each spelling.
    let flags: [String]
    var testDescription: String { self.command }
}

/// `wsgate client|send|bench --help`: the whole usage on stdout, status 0, and in step with the parser.
@Suite("wsgate client tools: help")
struct ClientCommandHelpTests {
    static let cases = [
        HelpCase(command: "client", flags: ["--exec", "--linger", "--binary", "--raw", "-H", "--header", "--origin",
                                            "--subprotocol", "--compression", "--timeout", "--cacert", "-k", "--insecure", "--cert",
                                            "--key", "-h", "--help"]),
        HelpCase(command: "send", flags: ["--wait", "-n", "--replies", "--binary", "-H", "--header", "--origin",
                                          "--subprotocol", "--compression", "--timeout", "--cacert", "-k", "--insecure",
                                          "--cert", "--key", "-h", "--help"]),
        HelpCase(command: "bench", flags: ["-c", "--connections", "-n", "--messages", "-d", "--duration", "-s", "--size",
                                           "-p", "--in-flight", "--text", "--binary", "--churn", "--compression", "--json",
                                           "--cacert", "-k", "--insecure", "--cert", "--key", "-h", "--help"]),
    ]

    @Test(arguments: cases)
    func subcommandHelpListsEveryFlagAndExitsZero(_ help: HelpCase) throws {
        for spelling in ["--help", "-h"] {
            let run = try runWsgate([help.command, spelling])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            #expect(run.stderr == "")
            #expect(run.stdout.hasPrefix("usage: wsgate \(help.command) URL"), "\(run.stdout)")
            let listed = helpFlags(run.stdout).flatMap(\.names)
            #expect(listed.sorted() == help.flags.sorted(), "--help lists \(listed)")
        }
    }

    /// Each flag `--help` shows is one the parser takes (it fails on the connection, not the flag),
    /// in both spellings of a value: `--flag value` and `--flag=value`.
    @Test(arguments: cases)
    func everyFlagInHelpIsAccepted(_ help: HelpCase) throws {
        let usage = try runWsgate([help.command, "--help"]).stdout
        let url = "ws://127.0.0.1:\(try closedLoopbackPort())/"
        for (names, takesValue) in helpFlags(usage) where !names.contains("--help") {
            for name in names {
                let value = sampleValue(names.last!)
                var forms = [takesValue ? [name, value] : [name]]
                if takesValue && name.hasPrefix("--") { forms.append(["\(name)=\(value)"]) }
                for form in forms {
                    let run = try runWsgate([help.command, url] + form)
                    #expect(run.status == 1, "\(form): status \(String(describing: run.status)), stderr: \(run.stderr)")
                    #expect(run.stderr.contains("ECONNREFUSED") || run.stdout.contains("ECONNREFUSED"),
                            "\(form): stderr: \(run.stderr)")
                }
            }
        }
    }
}
