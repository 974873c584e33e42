import Client

/// Flags shared by `client` and `send`: headers, origin, subprotocols, timeout.
struct ClientFlags {
    /// Thrown by `parse` after printing the usage for `-h`/`--help`: the command exits 0.
    static let helpRequested = "help requested"

    /// Parses a subcommand's arguments: `own` handles the subcommand's flags (returning false for
    /// one it does not know, and calling `value()` for a flag's value); the shared flags, the URL
    /// and positional arguments are handled here. A URL is required.
    mutating func parse(
        _ arguments: [String], command: String, usage: String,
        own: (_ flag: String, _ value: () throws(OptionParser.Failure) -> String) throws(OptionParser.Failure) -> Bool
    ) throws(OptionParser.Failure) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "-h" || argument == "--help" {
                print(usage, terminator: "")
                throw OptionParser.Failure(description: Self.helpRequested)
            }
            let value = { () throws(OptionParser.Failure) -> String in
                guard let value = rest.popFirst() else { throw OptionParser.Failure(description: "\(argument) needs a value") }
                return value
            }
            if try own(argument, value) { continue }
            guard try self.consume(argument, &rest) else {
                throw OptionParser.Failure(description: "\(command): unknown flag \(argument) (see wsgate \(command) --help)")
            }
        }
        guard self.url != nil else {
            throw OptionParser.Failure(description: "\(command): no URL (see wsgate \(command) --help)")
        }
    }

    var options = BlockingClient.Options()
    var url: String?

    /// Connects as the flags say, or prints why not: the caller exits with status 1.
    func connect(command: String) -> BlockingClient? {
        do {
            return try BlockingClient(url: self.url!, options: self.options)
        } catch {
            printError("wsgate \(command): \(error)\n")
            return nil
        }
    }
    var positional: [String] = []

    /// Consumes one flag if it is a connection flag; returns false when it is not one.
    mutating func consume(_ argument: String, _ rest: inout ArraySlice<String>) throws(OptionParser.Failure) -> Bool {
        func value() throws(OptionParser.Failure) -> String {
            guard let value = rest.popFirst() else { throw OptionParser.Failure(description: "\(argument) needs a value") }
            return value
        }
        switch argument {
        case "-H", "--header":
            let header = try value()
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
                throw OptionParser.Failure(description: "\(argument): '\(header)' is not 'Name: value'")
            }
            let name = String(header[..<colon])
            let text = String(header[header.index(after: colon)...].drop { $0 == " " })
            self.options.headers.append((name, text))
        case "--origin": self.options.origin = try value()
        case "--subprotocol": self.options.subprotocols.append(try value())
        case "--timeout": self.options.timeout = try OptionParser.duration(try value(), flag: argument)
        default:
            guard !argument.hasPrefix("-") || argument == "-" else { return false }
            guard self.url == nil else {
                self.positional.append(argument)
                return true
            }
            // A URL that cannot be one is a usage error (status 2, as bench has it), not a failed connection.
            do {
                _ = try WebSocketURL(argument)
            } catch {
                throw OptionParser.Failure(description: "bad URL: \(error)")
            }
            self.url = argument
        }
        return true
    }
}

/// The exit status for a close: 0 for a normal end (1000, 1001, or none expected), 1 otherwise.
func exitStatus(forClose code: CloseCodeValue?) -> Int32 {
    guard let code else { return 1 }
    return code == 1000 || code == 1001 ? 0 : 1
}

typealias CloseCodeValue = UInt16
