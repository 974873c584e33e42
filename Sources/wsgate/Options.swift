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
func parseCommandLine(_ arguments: [String]) throws(OptionParser.Failure) -> Command {
    var configuration = GatewayServer.Configuration()
    var parser = OptionParser(arguments)
    var addresses: [String] = []
    var logLevel = LogLevel.access
    var logStderr = true
    var controlGroups = ControlGroupSetting.automatic
    var binary = false
    var routes: [(flag: String, pattern: String, handler: String)] = []
    var directory: String?
    var command: [String]?
    var ssl = false
    var portGiven = false
    var sslFiles: [String: String] = [:]
    var compressionOn = false
    var compression = PerMessageDeflate.Configuration()
    var compressionFlags: [String] = []
    var metricsOn = false
    var metricsPath: String?
    while let item = try parser.next(switches: ServeFlags.switches, valued: ServeFlags.valued) {
        guard case .flag(let flag, let value) = item else {
            if case .command(let words) = item { command = words }
            break
        }
        switch flag {
        case "--help", "-h": return .help
        case "--version": return .version
        case "--license": return .license
        case "--route", "--binary-route":
            let (pattern, handler) = try splitRoute(value, flag: flag)
            routes.append((flag, pattern, handler))
        case "--dir": directory = value
        case "--binary": binary = value == "true"
        case "--address": addresses.append(value)
        case "--port":
            configuration.port = UInt16(try OptionParser.integer(value, flag: flag, range: 0...65535))
            portGiven = true
        case "--ssl": ssl = value == "true"
        case "--sslcert", "--sslkey", "--sslca": sslFiles[flag] = value
        case "--ping-interval":
            let interval = try OptionParser.duration(value, flag: flag)
            configuration.pingInterval = interval == .zero ? nil : interval
        case "--ping-timeout": configuration.pingTimeout = try OptionParser.duration(value, flag: flag)
        case "--idle-timeout":
            let timeout = try OptionParser.duration(value, flag: flag)
            configuration.idleTimeout = timeout == .zero ? nil : timeout
        case "--handshake-timeout": configuration.handshakeTimeout = try OptionParser.duration(value, flag: flag)
        case "--close-timeout": configuration.closeTimeout = try OptionParser.duration(value, flag: flag)
        case "--shutdown-timeout": configuration.shutdownTimeout = try OptionParser.duration(value, flag: flag)
        case "--max-message-size": configuration.maxMessageSize = try OptionParser.size(value, flag: flag)
        case "--max-queued-bytes": configuration.maxQueuedBytes = try OptionParser.size(value, flag: flag)
        case "--max-header-size": configuration.maxRequestHeadSize = try OptionParser.size(value, flag: flag)
        case "--max-connections":
            configuration.maxConnections = try OptionParser.integer(value, flag: flag, range: 1...10_000_000)
        case "--maxforks":
            configuration.maxPrograms = try OptionParser.integer(value, flag: flag, range: 1...10_000_000)
        case "--passenv":
            configuration.passEnvironment = value.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }
        case "--cgroup":
            switch value {
            case "auto": controlGroups = .automatic
            case "off": controlGroups = .off
            case _ where value.hasPrefix("/"): controlGroups = .directory(value)
            default: throw OptionParser.Failure(description: "--cgroup: '\(value)' is not auto, off or an absolute directory")
            }
        case "--closems":
            let milliseconds = try OptionParser.integer(value, flag: flag, range: 0...3_600_000)
            configuration.closeGrace = .milliseconds(milliseconds)
        case "--origin":
            configuration.allowedOrigins = value.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }
        case "--sameorigin": configuration.sameOrigin = value == "true"
        case "--header", "--header-ws", "--header-http":
            let header = try parseHeader(value, flag: flag)
            switch flag {
            case "--header": configuration.headers.append(header)
            case "--header-ws": configuration.upgradeHeaders.append(header)
            default: configuration.refusalHeaders.append(header)
            }
        case "--subprotocol": configuration.subprotocols.append(value)
        case "--compression": compressionOn = value == "true"
        case "--compression-level":
            compression.level = try OptionParser.integer(value, flag: flag, range: 1...9)
            compressionFlags.append(flag)
        case "--compression-threshold":
            // 0 compresses every message.
            compression.threshold = value == "0" ? 0 : try OptionParser.size(value, flag: flag)
            compressionFlags.append(flag)
        case "--compression-window-bits":
            // zlib cannot compress raw DEFLATE with an 8-bit window.
            compression.windowBits = try OptionParser.integer(value, flag: flag, range: 9...15)
            compressionFlags.append(flag)
        case "--compression-client-window-bits":
            // RFC 7692 allows 8, but clients built on zlib cannot compress with it (python-websockets
            // fails the connection), so wsgate never asks for it.
            compression.peerWindowBits = try OptionParser.integer(value, flag: flag, range: 9...15)
            compressionFlags.append(flag)
        case "--compression-memory-level":
            compression.memoryLevel = try OptionParser.integer(value, flag: flag, range: 1...9)
            compressionFlags.append(flag)
        case "--compression-context-takeover":
            compression.contextTakeover = value == "true"
            compressionFlags.append(flag)
        case "--compression-client-no-context-takeover":
            compression.peerNoContextTakeover = value == "true"
            compressionFlags.append(flag)
        case "--loglevel":
            guard let level = LogLevel(name: value) else {
                throw OptionParser.Failure(description: "--loglevel: '\(value)' is not one of debug, trace, access, info, error, fatal")
            }
            logLevel = level
        case "--log-stderr": logStderr = value == "true"
        case "--staticdir", "--cgidir":
            guard isDirectory(value) else { throw OptionParser.Failure(description: "\(flag): '\(value)' is not a directory") }
            if flag == "--staticdir" { configuration.staticDirectory = value } else { configuration.cgiDirectory = value }
        case "--cgi-timeout": configuration.cgiTimeout = try positiveDuration(value, flag: flag)
        case "--http-idle-timeout": configuration.httpIdleTimeout = try positiveDuration(value, flag: flag)
        case "--max-request-body": configuration.maxRequestBodySize = try OptionParser.size(value, flag: flag)
        case "--devconsole": configuration.devConsole = value == "true"
        case "--metrics": metricsOn = value == "true"
        case "--metrics-path":
            guard value.hasPrefix("/"), !value.contains("?"), !value.contains(where: { $0 == " " || $0.isNewline }) else {
                throw OptionParser.Failure(description: "--metrics-path: '\(value)' is not a path (it starts with /, without a query)")
            }
            metricsPath = value
        case "--reverselookup":
            // websocketd's switches: asking for what wsgate does anyway (=false) is fine.
            if value == "true" { throw unsupported(flag) }
        case "--redirport":
            throw unsupported(flag)
        default:
            throw OptionParser.Failure(description: "unknown flag \(flag) (see wsgate --help)")
        }
    }
    let defaultMode: ProgramMode = binary ? .binary : .lines
    // Each path is served by one route: a second one for the same path is a mistake to report,
    // not a route that silently never serves.
    var writtenAs: [String: String] = [:]
    func add(_ route: Route, writtenAs text: String) throws(OptionParser.Failure) {
        if let first = writtenAs[route.pattern] {
            throw OptionParser.Failure(description: "path \(route.pattern) is routed twice: \(first) and \(text)")
        }
        writtenAs[route.pattern] = text
        configuration.routes.append(route)
    }
    for route in routes {
        try add(try makeRoute(route.pattern, route.handler, defaultMode: defaultMode, flag: route.flag),
                writtenAs: "\(route.flag) \(route.pattern)=\(route.handler)")
    }
    if let directory {
        let (mode, path) = ProgramMode.split(directory)
        guard mode?.isPerSession ?? true else {
            throw OptionParser.Failure(description: "--dir: \(mode!) runs one program for a route; --dir starts one per session (use lines, binary or pty)")
        }
        guard isDirectory(path) else { throw OptionParser.Failure(description: "--dir: '\(path)' is not a directory") }
        try add(Route("/*", .directory(path, mode: mode ?? defaultMode)), writtenAs: "--dir \(directory) (every path)")
    }
    if let command {
        // websocketd's form: the program serves every path; its first word may carry a MODE: prefix.
        let (mode, executable) = ProgramMode.split(command[0])
        let program = try checkedProgram(ProgramCommand(executable: executable, arguments: Array(command.dropFirst())))
        let handler = RouteHandler.program(program, mode: mode ?? defaultMode)
        let written = ProgramCommand(executable: command[0], arguments: Array(command.dropFirst()))
        let text = "the COMMAND \(written) (every path)"
        try add(Route("/", handler), writtenAs: text)
        try add(Route("/*", handler), writtenAs: text)
    }
    guard !configuration.routes.isEmpty || configuration.staticDirectory != nil || configuration.cgiDirectory != nil else {
        throw OptionParser.Failure(description: "nothing to serve: give --route PATH=HANDLER, --dir DIR, a COMMAND, --staticdir DIR or --cgidir DIR (see wsgate --help)")
    }
    if ssl {
        guard let certificate = sslFiles["--sslcert"], let key = sslFiles["--sslkey"] else {
            let missing = sslFiles["--sslcert"] == nil ? "--sslcert" : "--sslkey"
            throw OptionParser.Failure(description: "--ssl needs --sslcert FILE and --sslkey FILE (\(missing) is missing)")
        }
        configuration.tls = TLSSettings(certificateFile: certificate, keyFile: key, clientCAFile: sslFiles["--sslca"])
        if !portGiven { configuration.port = 443 }
    } else if let flag = ["--sslcert", "--sslkey", "--sslca"].first(where: { sslFiles[$0] != nil }) {
        throw OptionParser.Failure(description: "\(flag) is for TLS: add --ssl")
    }
    if compressionOn {
        // Kept per route, so a configuration file can later set it route by route.
        for index in configuration.routes.indices { configuration.routes[index].compression = compression }
    } else if let flag = compressionFlags.first {
        throw OptionParser.Failure(description: "\(flag) needs --compression")
    }
    if metricsOn {
        configuration.metricsPath = metricsPath ?? "/metrics"
    } else if metricsPath != nil {
        throw OptionParser.Failure(description: "--metrics-path needs --metrics")
    }
    if !addresses.isEmpty { configuration.addresses = addresses }
    configuration.log = Log(level: logLevel, programStderr: logStderr)
    configuration.containsOrphans = true
    configuration.controlGroups = controlGroups
    return .serve(configuration)
}

/// The refusal of a websocketd flag whose feature wsgate does not have yet.
private func unsupported(_ flag: String) -> OptionParser.Failure {
    let why = switch flag {
    case "--redirport": "redirecting HTTP to HTTPS is not supported yet"
    case "--reverselookup":
        "reverse DNS lookups are not supported: REMOTE_HOST is the client's IP address (--reverselookup=false)"
    default: "not supported"
    }
    return OptionParser.Failure(description: "\(flag): \(why)")
}

func splitRoute(_ text: String, flag: String) throws(OptionParser.Failure) -> (String, String) {
    guard let equals = text.firstIndex(of: "="), text.hasPrefix("/") else {
        throw OptionParser.Failure(description: "\(flag): '\(text)' is not PATH=HANDLER with PATH starting with /")
    }
    let path = String(text[..<equals])
    if path.dropLast(path.hasSuffix("/*") ? 2 : 0).contains("*") {
        throw OptionParser.Failure(description: "\(flag): '\(path)': * is only allowed as a final /*")
    }
    return (path, String(text[text.index(after: equals)...]))
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

/// A duration that must not be zero: a timeout of 0 would refuse everything at once.
private func positiveDuration(_ text: String, flag: String) throws(OptionParser.Failure) -> Duration {
    let duration = try OptionParser.duration(text, flag: flag)
    guard duration > .zero else { throw OptionParser.Failure(description: "\(flag): must be more than 0") }
    return duration
}
