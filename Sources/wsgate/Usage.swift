/// `wsgate --help`: the forms, the handlers and modes, every flag of `ServeFlags` by group, and the
/// subcommands.
let usage = introduction + flagSections() + subcommands

private let introduction = """
    usage: wsgate [flags] --route PATH=HANDLER [--route PATH=HANDLER ...]
           wsgate [flags] [MODE:]COMMAND [ARGS...]   websocketd's form: COMMAND serves every path
           wsgate [flags] --dir [MODE:]DIR           each executable file below DIR at its path
           wsgate client|send|bench URL ...          the client tools (see Subcommands)

    Puts programs that read stdin and write stdout on the web as WebSocket endpoints.

    HANDLER is a built-in:
      echo          sends every message back
      broadcast     sends every message to every other client on the same path
    or [MODE:]COMMAND, a program with its arguments (split into words as a shell does, nothing
    expanded; a bare name is looked up in PATH), run in one of these modes:
      lines         (default) a process per connection; messages are stdin/stdout lines
      binary        a process per connection; bytes pass through both ways
      pty           a process per connection on a pseudo-terminal (each line flushed at once)
      shared        one process for the route; clients multiplexed with the shared line protocol
      shared-json   one process for the route; the same protocol as JSON objects
      fanout        one process for the route; each stdout line goes to every client
    A program named echo or broadcast is written ./echo or with its path: `echo hi` is an error.
    PATH is exact (/echo) or a prefix ending in /* (/chat/* serves /chat/a and /chat/b/c); an
    exact path wins over a prefix, a longer prefix over a shorter one. Each PATH is routed once.
      wsgate --route /echo=echo --route '/count=./handlers/count --to 5' --route '/chat/*=broadcast'
      wsgate --route '/chat/*=shared-json:./handlers/chat' --route '/clock=fanout:./handlers/clock'
      wsgate --port 8080 ./handlers/greeter

    Flags are --flag value, --flag=value, or websocketd's -flag value; switches also take =true or
    =false. Durations: 30s, 500ms, 2m, 1h. Sizes: 1MiB, 64KiB, 512KB, or bytes.

    """

private let subcommands = """

    Subcommands:
      wsgate client URL [flags]     an interactive client: lines in, messages out (wsgate client --help)
      wsgate send URL MESSAGE...    sends messages, prints the replies (wsgate send --help)
      wsgate bench URL [flags]      a load generator for echo endpoints (wsgate bench --help)
      wsgate help, wsgate version   this text, the version

    """

/// Each group of `ServeFlags.all` under its heading, one flag a line, help in one column.
private func flagSections() -> String {
    let column = 32
    var text = ""
    for group in ServeFlag.Group.allCases {
        let flags = ServeFlags.all.filter { $0.group == group }
        guard !flags.isEmpty else { continue }
        text += "\n\(group.rawValue):\n"
        for flag in flags {
            var left = "  " + flag.spellings.joined(separator: ", ")
            if let value = flag.value { left += " " + value }
            let lines = flag.help.split(separator: "\n", omittingEmptySubsequences: false)
            if left.count + 2 > column {
                text += left + "\n" + String(repeating: " ", count: column) + lines[0] + "\n"
            } else {
                text += left + String(repeating: " ", count: column - left.count) + lines[0] + "\n"
            }
            for line in lines.dropFirst() { text += String(repeating: " ", count: column) + line + "\n" }
        }
    }
    return text
}

let version = "wsgate 0.1.0"

/// `wsgate --license` (websocketd has the flag). No license has been chosen for wsgate yet, and
/// this says so rather than naming one.
let license = """
    \(version)
    No license has been chosen for wsgate yet: until one is, ask its authors before redistributing it.

    """
