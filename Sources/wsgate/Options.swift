import Gateway
import Glibc
import Reactor
import WebSocket

/// What the command line asked for.
enum Command {
    case serve(GatewayServer.Configuration)
    case help
    case version
    case license
}

/// Turns the arguments into a gateway configuration; every mistake is an error that names the flag.
///
/// With `--config FILE`, the file's top-level keys are applied first (those the command line also
/// gives are left out: the command line wins), then the command line's flags, then the file's
/// routes; `reloadConfiguration` does the same again on SIGHUP.
func parseCommandLine(_ arguments: [String]) throws(OptionParser.Failure) -> Command {
    var parser = OptionParser(arguments)
    var flags: [(flag: String, value: String)] = []
    var configPath: String?
    var command: [String]?
    while let item = try parser.next(switches: ServeFlags.switches, valued: ServeFlags.valued) {
        guard case .flag(let flag, let value) = item else {
            if case .command(let words) = item { command = words }
            break
        }
        switch flag {
        case "--help", "-h": return .help
        case "--version": return .version
        case "--license": return .license
        case "--config": configPath = value
        default: flags.append((flag, value))
        }
    }
    let sources = ServeSources(flags: flags, command: command, configPath: configPath)
    var configuration = try sources.configuration()
    if configPath != nil {
        configuration.reloadConfiguration = { try sources.configuration() }
    }
    return .serve(configuration)
}

/// What a served configuration is made of: the command line's flags and COMMAND, and the
/// configuration file, read again each time `configuration()` is called.
struct ServeSources {
    let flags: [(flag: String, value: String)]
    let command: [String]?
    let configPath: String?

    func configuration() throws(OptionParser.Failure) -> GatewayServer.Configuration {
        let file = try self.configPath.map { (path) throws(OptionParser.Failure) in try ConfigFile.load(path) }
        var settings = ServeSettings()
        let given = Set(self.flags.map(\.flag))
        for item in file?.globals ?? [] where !given.contains(item.flag) {
            try file!.apply(item, to: &settings)
        }
        for (flag, value) in self.flags { try settings.apply(flag, value) }
        var routes: [ServeSettings.FileRoute] = []
        for route in file?.routes ?? [] { routes.append(try file!.route(route, over: settings)) }
        return try settings.finish(command: self.command, fileRoutes: routes)
    }
}

func splitRoute(_ text: String, flag: String) throws(OptionParser.Failure) -> (String, String) {
    guard let equals = text.firstIndex(of: "="), text.hasPrefix("/") else {
        throw OptionParser.Failure(description: "\(flag): '\(text)' is not PATH=HANDLER with PATH starting with /")
    }
    let path = String(text[..<equals])
    try checkRoutePath(path, flag: flag)
    return (path, String(text[text.index(after: equals)...]))
}

/// A route's path: starts with `/`; `*` only as a final `/*`.
func checkRoutePath(_ path: String, flag: String) throws(OptionParser.Failure) {
    guard path.hasPrefix("/") else {
        throw OptionParser.Failure(description: "\(flag): '\(path)' does not start with /")
    }
    if path.dropLast(path.hasSuffix("/*") ? 2 : 0).contains("*") {
        throw OptionParser.Failure(description: "\(flag): '\(path)': * is only allowed as a final /*")
    }
}

/// The built-in handler called `name`, if there is one.
func builtInHandler(named name: String) -> RouteHandler? {
    switch name {
    case "echo": .echo
    case "broadcast": .broadcast
    default: nil
    }
}

/// `echo` and `broadcast` are the built-ins; anything else is `[MODE:]COMMAND`, a program with its
/// arguments run in MODE (`defaultMode` when none is written; `binary` for `--binary-route`).
///
/// A built-in's name with arguments (`echo hi`) is refused rather than run as the program of that
/// name: it is more likely a built-in written wrongly, and `./echo` or `/bin/echo` says "program".
func makeRoute(_ path: String, _ handler: String, defaultMode: ProgramMode, flag: String = "--route")
    throws(OptionParser.Failure) -> Route
{
    let forcedBinary = flag == "--binary-route"
    let (written, text) = ProgramMode.split(handler)
    if forcedBinary, let written, written != .binary {
        throw OptionParser.Failure(description: "--binary-route \(path): the mode is binary, not \(written)")
    }
    let command: ProgramCommand
    do {
        command = try ProgramCommand(parsing: text)
    } catch {
        throw OptionParser.Failure(description: "\(flag) \(path): \(error)")
    }
    if written == nil, let builtIn = builtInHandler(named: command.executable) {
        let name = command.executable
        guard command.arguments.isEmpty, !forcedBinary else {
            let what = forcedBinary ? "is not a program" : "takes no arguments"
            let found = ChildProcess.findExecutable(name).map { " (\($0))" } ?? ""
            throw OptionParser.Failure(
                description: "\(flag) \(path): '\(handler)': \(name) is the built-in handler, which \(what); "
                    + "for the program \(name), write ./\(name) or its path\(found)")
        }
        return Route(path, builtIn)
    }
    let mode = forcedBinary ? .binary : written ?? defaultMode
    return Route(path, .program(try checkedProgram(command), mode: mode))
}

/// Refuses at start-up a program that cannot run, as websocketd does, rather than at each connection.
func checkedProgram(_ command: ProgramCommand) throws(OptionParser.Failure) -> ProgramCommand {
    guard let path = ChildProcess.findExecutable(command.executable), isExecutableFile(path) else {
        throw OptionParser.Failure(description: "program '\(command.executable)' not found or not executable")
    }
    return command
}

func parseHeader(_ text: String, flag: String) throws(OptionParser.Failure) -> (name: String, value: String) {
    guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
        throw OptionParser.Failure(description: "\(flag): '\(text)' is not 'Name: value'")
    }
    return (String(text[..<colon]), String(text[text.index(after: colon)...]).trimmingCharacters(in: " "))
}

func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}

func isExecutableFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
