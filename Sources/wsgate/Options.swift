import Gateway

/// What the command line asked for.
enum Command {
    case serve(GatewayServer.Configuration)
    case help
    case version
}

/// Turns the arguments into a gateway configuration; every mistake is an error that names the flag.
func parseCommandLine(_ arguments: [String]) throws(OptionParser.Failure) -> Command {
    var configuration = GatewayServer.Configuration()
    var parser = OptionParser(arguments)
    var addresses: [String] = []
    var logLevel = LogLevel.access
    while let (flag, value) = try parser.next(switches: ["--help", "--version"]) {
        let value = value ?? ""
        switch flag {
        case "--help": return .help
        case "--version": return .version
        case "--route": configuration.routes.append(try parseRoute(value))
        case "--address": addresses.append(value)
        case "--port": configuration.port = UInt16(try OptionParser.integer(value, flag: flag, range: 0...65535))
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
        case "--subprotocol": configuration.subprotocols.append(value)
        case "--loglevel":
            guard let level = LogLevel(name: value) else {
                throw OptionParser.Failure(description: "--loglevel: '\(value)' is not one of debug, trace, access, info, error, fatal")
            }
            logLevel = level
        default:
            throw OptionParser.Failure(description: "unknown flag \(flag) (see wsgate --help)")
        }
    }
    guard !configuration.routes.isEmpty else {
        throw OptionParser.Failure(description: "no routes: give at least one --route PATH=HANDLER (see wsgate --help)")
    }
    if !addresses.isEmpty { configuration.addresses = addresses }
    configuration.log = Log(level: logLevel)
    return .serve(configuration)
}

func parseRoute(_ text: String) throws(OptionParser.Failure) -> Route {
    guard let equals = text.firstIndex(of: "="), text.hasPrefix("/") else {
        throw OptionParser.Failure(description: "--route: '\(text)' is not PATH=HANDLER with PATH starting with /")
    }
    let path = String(text[..<equals])
    let handler = String(text[text.index(after: equals)...])
    if path.dropLast(path.hasSuffix("/*") ? 2 : 0).contains("*") {
        throw OptionParser.Failure(description: "--route: '\(path)': * is only allowed as a final /*")
    }
    switch handler {
    case "echo": return Route(path, .echo)
    case "broadcast": return Route(path, .broadcast)
    case "":
        throw OptionParser.Failure(description: "--route: '\(text)' names no handler")
    default:
        throw OptionParser.Failure(description:
            "--route: '\(handler)': program handlers are not supported yet; the built-ins are echo and broadcast")
    }
}
