import Client
import TLS

/// One flag of a client subcommand, as its `--help` shows it and its parser accepts it.
struct ClientFlag {
    /// Its spellings, the long one last: `["-n", "--replies"]`.
    let names: [String]
    /// The value's placeholder ("DUR"), or nil for a switch.
    let value: String?
    /// What it does; each further line is indented under the first.
    let help: String

    /// The long spelling, by which a command looks the flag up.
    var name: String { self.names.last! }

    init(_ names: String..., value: String? = nil, help: String) {
        self.names = names
        self.value = value
        self.help = help
    }

    static let help = ClientFlag("-h", "--help", help: "print this help and exit")

    /// TLS flags, curl's names, for `wss://` URLs (`client`, `send` and `bench`).
    static let tls = [
        ClientFlag("--cacert", value: "FILE", help: "verify the server against the CA certificates in FILE (PEM)\ninstead of the system's"),
        ClientFlag("-k", "--insecure", help: "do not verify the server's certificate (wss://)"),
        ClientFlag("--cert", value: "FILE", help: "a client certificate (PEM) for mutual TLS"),
        ClientFlag("--key", value: "FILE", help: "the --cert certificate's private key (default: in --cert)"),
    ]

    /// The flags of every command that opens one connection (`client`, `send`).
    static let connection = [
        ClientFlag("-H", "--header", value: "'N: V'", help: "an extra request header (repeatable)"),
        ClientFlag("--origin", value: "ORIGIN", help: "the Origin header"),
        ClientFlag("--subprotocol", value: "NAME", help: "offer a subprotocol (repeatable)"),
        ClientFlag("--compression", help: "offer permessage-deflate (RFC 7692), as browsers do"),
        ClientFlag("--timeout", value: "DUR", help: """
            bound on connecting, the handshake, and the wait for the server's
            close frame after ours (default 5s)
            """),
    ]
}

/// A client subcommand's command line: one table of flags from which both `--help` and the parser
/// are made, so neither can know a flag the other does not.
struct ClientCommandLine {
    let command: String
    let synopsis: String
    /// Paragraphs between the synopsis and the flags.
    let description: String
    let flags: [ClientFlag]

    /// What `wsgate COMMAND --help` prints.
    var usage: String {
        var text = "usage: wsgate \(self.command) \(self.synopsis)\n\n\(self.description)\n\nflags:\n"
        for flag in self.flags {
            let label = "  " + flag.names.joined(separator: ", ") + (flag.value.map { " " + $0 } ?? "")
            let lines = flag.help.split(separator: "\n", omittingEmptySubsequences: false)
            let column = 24
            text += label.count < column ? label.padding(to: column) + lines[0] + "\n"
                : label + "\n" + String(repeating: " ", count: column) + lines[0] + "\n"
            for line in lines.dropFirst() { text += String(repeating: " ", count: column) + line + "\n" }
        }
        return text
    }

    /// A command line taken apart: flags by their long name, in order, and the other arguments.
    struct Parsed {
        var flags: [(name: String, value: String)] = []
        var positional: [String] = []

        func has(_ name: String) -> Bool { self.flags.contains { $0.name == name } }
        /// The value given last for `name`.
        func value(_ name: String) -> String? { self.flags.last { $0.name == name }?.value }
        func values(_ name: String) -> [String] { self.flags.filter { $0.name == name }.map(\.value) }
    }

    /// Splits `arguments` into flags and positional arguments: `--flag value`, `--flag=value`,
    /// `-n value`; `--` ends the flags (a message may start with a dash). Prints the usage and
    /// returns nil for `-h`/`--help`.
    func parse(_ arguments: [String]) throws(OptionParser.Failure) -> Parsed? {
        var parsed = Parsed()
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--" {
                parsed.positional.append(contentsOf: rest)
                break
            }
            guard argument.hasPrefix("-") && argument != "-" else {
                parsed.positional.append(argument)
                continue
            }
            let equals = argument.hasPrefix("--") ? argument.firstIndex(of: "=") : nil
            let spelling = equals.map { String(argument[..<$0]) } ?? argument
            guard let flag = self.flags.first(where: { $0.names.contains(spelling) }) else {
                throw OptionParser.Failure(
                    description: "\(self.command): unknown flag \(spelling) (see wsgate \(self.command) --help)")
            }
            if flag.name == "--help" {
                print(self.usage, terminator: "")
                return nil
            }
            if flag.value == nil {
                guard equals == nil else { throw OptionParser.Failure(description: "\(spelling) takes no value") }
                parsed.flags.append((flag.name, ""))
            } else if let equals {
                parsed.flags.append((flag.name, String(argument[argument.index(after: equals)...])))
            } else if let value = rest.popFirst() {
                parsed.flags.append((flag.name, value))
            } else {
                throw OptionParser.Failure(description: "\(spelling) needs a value")
            }
        }
        return parsed
    }

    /// The URL, the first positional argument: a usage error (status 2, as in bench) when it is
    /// missing or cannot be a WebSocket URL, rather than a failed connection.
    func url(_ parsed: Parsed) throws(OptionParser.Failure) -> String {
        guard let url = parsed.positional.first else {
            throw OptionParser.Failure(description: "\(self.command): no URL (see wsgate \(self.command) --help)")
        }
        do {
            _ = try WebSocketURL(url)
        } catch {
            throw OptionParser.Failure(description: "bad URL: \(error)")
        }
        return url
    }
}

extension BlockingClient.Options {
    /// The connection flags (`ClientFlag.connection`) of a parsed command line.
    init(_ parsed: ClientCommandLine.Parsed) throws(OptionParser.Failure) {
        self.init()
        for header in parsed.values("--header") {
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
                throw OptionParser.Failure(description: "--header: '\(header)' is not 'Name: value'")
            }
            let value = String(header[header.index(after: colon)...].drop { $0 == " " })
            self.headers.append((String(header[..<colon]), value))
        }
        self.origin = parsed.value("--origin")
        self.subprotocols = parsed.values("--subprotocol")
        if parsed.has("--compression") { self.compression = .clientDefaults }
        if let timeout = parsed.value("--timeout") {
            self.timeout = try OptionParser.duration(timeout, flag: "--timeout")
        }
        if parsed.positional.first?.hasPrefix("wss://") == true { self.tls = try tlsContext(parsed) }
    }
}

/// The client TLS context the TLS flags ask for; nil (the system's CA store) when none is given.
/// Only made for a `wss://` URL: for `ws://` the flags mean nothing, and their files are not read.
func tlsContext(_ parsed: ClientCommandLine.Parsed) throws(OptionParser.Failure) -> TLSContext? {
    let insecure = parsed.has("--insecure")
    let caFile = parsed.value("--cacert")
    let certificate = parsed.value("--cert")
    let key = parsed.value("--key")
    if key != nil && certificate == nil {
        throw OptionParser.Failure(description: "--key needs --cert")
    }
    guard insecure || caFile != nil || certificate != nil else { return nil }
    do {
        return try TLSContext.client(caFile: caFile, verify: !insecure, certificateFile: certificate, keyFile: key)
    } catch {
        throw OptionParser.Failure(description: error.description)
    }
}

/// Connects, or prints why not: the caller exits with status 1.
func connect(_ url: String, _ options: BlockingClient.Options, command: String) -> BlockingClient? {
    do {
        return try BlockingClient(url: url, options: options)
    } catch {
        printError("wsgate \(command): \(error)\n")
        return nil
    }
}

/// Runs `body` on a parsed command line; a usage error prints one line and gives status 2.
func withCommandLine(_ commandLine: ClientCommandLine, _ arguments: [String],
                     _ body: (ClientCommandLine.Parsed) throws(OptionParser.Failure) -> Int32) -> Int32 {
    do {
        guard let parsed = try commandLine.parse(arguments) else { return 0 }
        return try body(parsed)
    } catch {
        printError("wsgate: \(error)\n")
        return 2
    }
}

extension String {
    func padding(to width: Int) -> String {
        self.count >= width ? self : self + String(repeating: " ", count: width - self.count)
    }
}
