import Gateway
import WebSocket

/// What the serve flags say, applied one flag at a time: the one mapping from a flag to the
/// gateway's configuration, used by the command line, by the configuration file's top-level keys
/// (which are the flags' names), and by its per-route options.
struct ServeSettings {
    var configuration = GatewayServer.Configuration()
    var addresses: [String] = []
    var logLevel = LogLevel.access
    var logStderr = true
    var controlGroups = ControlGroupSetting.automatic
    var binary = false
    var routes: [(flag: String, pattern: String, handler: String)] = []
    var directory: String?
    var ssl = false
    var portGiven = false
    var sslFiles: [String: String] = [:]
    var compressionOn = false
    var compression = PerMessageDeflate.Configuration()
    var compressionFlags: [String] = []
    var metricsOn = false
    var metricsPath: String?

    /// A route of the configuration file, made over these settings (see `ConfigFile.makeRoute`).
    struct FileRoute {
        var route: Route
        /// Where it was written, for the "routed twice" error.
        var writtenAs: String
        /// The route's own `compression`; nil follows `--compression`.
        var compression: Bool?
    }

    /// Applies one flag (canonical spelling, as `OptionParser` returns it; a switch's value is
    /// "true" or "false").
    mutating func apply(_ flag: String, _ value: String) throws(OptionParser.Failure) {
        switch flag {
        case "--route", "--binary-route":
            let (pattern, handler) = try splitRoute(value, flag: flag)
            self.routes.append((flag, pattern, handler))
        case "--dir": self.directory = value
        case "--binary": self.binary = value == "true"
        case "--address": self.addresses.append(value)
        case "--port":
            self.configuration.port = UInt16(try OptionParser.integer(value, flag: flag, range: 0...65535))
            self.portGiven = true
        case "--once": self.configuration.once = value == "true"
        case "--unixsocket": self.configuration.unixSockets.append(value)
        case "--unixsocket-mode":
            guard let mode = UInt32(value, radix: 8), mode <= 0o777 else {
                throw OptionParser.Failure(description: "--unixsocket-mode: '\(value)' is not an octal file mode such as 0660")
            }
            self.configuration.unixSocketMode = mode
        case "--auth": self.configuration.auth = try authPolicy(value)
        case "--ssl": self.ssl = value == "true"
        case "--sslcert", "--sslkey", "--sslca": self.sslFiles[flag] = value
        case "--ping-interval":
            let interval = try OptionParser.duration(value, flag: flag)
            self.configuration.pingInterval = interval == .zero ? nil : interval
        case "--ping-timeout": self.configuration.pingTimeout = try OptionParser.duration(value, flag: flag)
        case "--idle-timeout":
            let timeout = try OptionParser.duration(value, flag: flag)
            self.configuration.idleTimeout = timeout == .zero ? nil : timeout
        case "--handshake-timeout": self.configuration.handshakeTimeout = try OptionParser.duration(value, flag: flag)
        case "--close-timeout": self.configuration.closeTimeout = try OptionParser.duration(value, flag: flag)
        case "--shutdown-timeout": self.configuration.shutdownTimeout = try OptionParser.duration(value, flag: flag)
        case "--max-message-size": self.configuration.maxMessageSize = try OptionParser.size(value, flag: flag)
        case "--max-queued-bytes": self.configuration.maxQueuedBytes = try OptionParser.size(value, flag: flag)
        case "--max-header-size": self.configuration.maxRequestHeadSize = try OptionParser.size(value, flag: flag)
        case "--max-connections":
            self.configuration.maxConnections = try OptionParser.integer(value, flag: flag, range: 1...10_000_000)
        case "--maxforks":
            self.configuration.maxPrograms = try OptionParser.integer(value, flag: flag, range: 1...10_000_000)
        case "--threads":
            self.configuration.threads = try OptionParser.integer(value, flag: flag, range: 1...1024)
        case "--passenv":
            self.configuration.passEnvironment = value.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }
        case "--cgroup":
            switch value {
            case "auto": self.controlGroups = .automatic
            case "off": self.controlGroups = .off
            case _ where value.hasPrefix("/"): self.controlGroups = .directory(value)
            default: throw OptionParser.Failure(description: "--cgroup: '\(value)' is not auto, off or an absolute directory")
            }
        case "--closems":
            let milliseconds = try OptionParser.integer(value, flag: flag, range: 0...3_600_000)
            self.configuration.closeGrace = .milliseconds(milliseconds)
        case "--origin":
            self.configuration.allowedOrigins = value.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }
        case "--sameorigin": self.configuration.sameOrigin = value == "true"
        case "--header", "--header-ws", "--header-http":
            let header = try parseHeader(value, flag: flag)
            switch flag {
            case "--header": self.configuration.headers.append(header)
            case "--header-ws": self.configuration.upgradeHeaders.append(header)
            default: self.configuration.refusalHeaders.append(header)
            }
        case "--subprotocol": self.configuration.subprotocols.append(value)
        case "--compression": self.compressionOn = value == "true"
        case "--compression-level":
            self.compression.level = try OptionParser.integer(value, flag: flag, range: 1...9)
            self.compressionFlags.append(flag)
        case "--compression-threshold":
            // 0 compresses every message.
            self.compression.threshold = value == "0" ? 0 : try OptionParser.size(value, flag: flag)
            self.compressionFlags.append(flag)
        case "--compression-window-bits":
            // zlib cannot compress raw DEFLATE with an 8-bit window.
            self.compression.windowBits = try OptionParser.integer(value, flag: flag, range: 9...15)
            self.compressionFlags.append(flag)
        case "--compression-client-window-bits":
            // RFC 7692 allows 8, but clients built on zlib cannot compress with it (python-websockets
            // fails the connection), so wsgate never asks for it.
            self.compression.peerWindowBits = try OptionParser.integer(value, flag: flag, range: 9...15)
            self.compressionFlags.append(flag)
        case "--compression-memory-level":
            self.compression.memoryLevel = try OptionParser.integer(value, flag: flag, range: 1...9)
            self.compressionFlags.append(flag)
        case "--compression-context-takeover":
            self.compression.contextTakeover = value == "true"
            self.compressionFlags.append(flag)
        case "--compression-client-no-context-takeover":
            self.compression.peerNoContextTakeover = value == "true"
            self.compressionFlags.append(flag)
        case "--redis":
            do {
                self.configuration.redis = try RedisEndpoint(parsing: value)
            } catch {
                throw OptionParser.Failure(description: "--redis: \(error)")
            }
        case "--redis-prefix": self.configuration.redisPrefix = value
        case "--trust-proxy":
            do {
                self.configuration.trustedProxies = try TrustedProxies(parsing: value)
            } catch {
                throw OptionParser.Failure(description: "--trust-proxy: \(error)")
            }
        case "--loglevel":
            guard let level = LogLevel(name: value) else {
                throw OptionParser.Failure(description: "--loglevel: '\(value)' is not one of debug, trace, access, info, error, fatal")
            }
            self.logLevel = level
        case "--log-stderr": self.logStderr = value == "true"
        case "--staticdir", "--cgidir":
            guard isDirectory(value) else { throw OptionParser.Failure(description: "\(flag): '\(value)' is not a directory") }
            if flag == "--staticdir" { self.configuration.staticDirectory = value } else { self.configuration.cgiDirectory = value }
        case "--cgi-timeout": self.configuration.cgiTimeout = try positiveDuration(value, flag: flag)
        case "--http-idle-timeout": self.configuration.httpIdleTimeout = try positiveDuration(value, flag: flag)
        case "--max-request-body": self.configuration.maxRequestBodySize = try OptionParser.size(value, flag: flag)
        case "--devconsole": self.configuration.devConsole = value == "true"
        case "--metrics": self.metricsOn = value == "true"
        case "--metrics-path":
            guard value.hasPrefix("/"), !value.contains("?"), !value.contains(where: { $0 == " " || $0.isNewline }) else {
                throw OptionParser.Failure(description: "--metrics-path: '\(value)' is not a path (it starts with /, without a query)")
            }
            self.metricsPath = value
        case "--reverselookup":
            // websocketd's switches: asking for what wsgate does anyway (=false) is fine.
            if value == "true" { throw unsupported(flag) }
        case "--redirport":
            throw unsupported(flag)
        default:
            throw OptionParser.Failure(description: "unknown flag \(flag) (see wsgate --help)")
        }
    }

    /// Forgets what a repeatable flag collected, so that a route's own value replaces the
    /// gateway-wide one instead of adding to it.
    mutating func clear(_ flag: String) {
        switch flag {
        case "--header": self.configuration.headers = []
        case "--header-ws": self.configuration.upgradeHeaders = []
        case "--header-http": self.configuration.refusalHeaders = []
        case "--subprotocol": self.configuration.subprotocols = []
        default: break
        }
    }

    /// The compression of a route whose own `compression` is `choice` (nil: follow `--compression`).
    func compression(choosing choice: Bool?) -> PerMessageDeflate.Configuration? {
        choice ?? self.compressionOn ? self.compression : nil
    }

    /// The configuration, once every flag is applied: the routes (the command line's, `--dir`,
    /// COMMAND, then the file's), TLS, compression, addresses and logging checked and set.
    func finish(command: [String]?, fileRoutes: [FileRoute] = []) throws(OptionParser.Failure)
        -> GatewayServer.Configuration
    {
        var configuration = self.configuration
        let defaultMode: ProgramMode = self.binary ? .binary : .lines
        // Each path is served by one route: a second one for the same path is a mistake to report,
        // not one to resolve silently.
        var writtenAs: [String: String] = [:]
        func add(_ route: Route, writtenAs text: String) throws(OptionParser.Failure) {
            if let first = writtenAs[route.pattern] {
                throw OptionParser.Failure(description: "path \(route.pattern) is routed twice: \(first) and \(text)")
            }
            writtenAs[route.pattern] = text
            configuration.routes.append(route)
        }
        for route in self.routes {
            var made = try makeRoute(route.pattern, route.handler, defaultMode: defaultMode, flag: route.flag)
            made.compression = self.compression(choosing: nil)
            try add(made, writtenAs: "\(route.flag) \(route.pattern)=\(route.handler)")
        }
        if let directory = self.directory {
            let (mode, path) = ProgramMode.split(directory)
            guard mode?.isPerSession ?? true else {
                throw OptionParser.Failure(description: "--dir: \(mode!) runs one program for a route; --dir starts one per session (use lines, binary or pty)")
            }
            guard isDirectory(path) else { throw OptionParser.Failure(description: "--dir: '\(path)' is not a directory") }
            try add(Route("/*", .directory(path, mode: mode ?? defaultMode), compression: self.compression(choosing: nil)),
                    writtenAs: "--dir \(directory) (every path)")
        }
        if let command {
            // websocketd's form: the program serves every path; its first word may carry a MODE: prefix.
            let (mode, executable) = ProgramMode.split(command[0])
            let program = try checkedProgram(ProgramCommand(executable: executable, arguments: Array(command.dropFirst())))
            let handler = RouteHandler.program(program, mode: mode ?? defaultMode)
            let written = ProgramCommand(executable: command[0], arguments: Array(command.dropFirst()))
            let text = "the COMMAND \(written) (every path)"
            try add(Route("/", handler, compression: self.compression(choosing: nil)), writtenAs: text)
            try add(Route("/*", handler, compression: self.compression(choosing: nil)), writtenAs: text)
        }
        for route in fileRoutes {
            if let first = writtenAs[route.route.pattern] {
                throw OptionParser.Failure(
                    description: "\(route.writtenAs): path: \(route.route.pattern) is routed twice (first by \(first))")
            }
            try add(route.route, writtenAs: route.writtenAs)
        }
        guard !configuration.routes.isEmpty || configuration.staticDirectory != nil || configuration.cgiDirectory != nil
        else {
            throw OptionParser.Failure(description: "nothing to serve: give --route PATH=HANDLER, --dir DIR, a COMMAND, --staticdir DIR, --cgidir DIR or --config FILE (see wsgate --help)")
        }
        if self.ssl {
            guard let certificate = self.sslFiles["--sslcert"], let key = self.sslFiles["--sslkey"] else {
                let missing = self.sslFiles["--sslcert"] == nil ? "--sslcert" : "--sslkey"
                throw OptionParser.Failure(description: "--ssl needs --sslcert FILE and --sslkey FILE (\(missing) is missing)")
            }
            configuration.tls = TLSSettings(certificateFile: certificate, keyFile: key, clientCAFile: self.sslFiles["--sslca"])
            if !self.portGiven { configuration.port = 443 }
        } else if let flag = ["--sslcert", "--sslkey", "--sslca"].first(where: { self.sslFiles[$0] != nil }) {
            throw OptionParser.Failure(description: "\(flag) is for TLS: add --ssl")
        }
        if !self.compressionOn && !fileRoutes.contains(where: { $0.compression == true }),
           let flag = self.compressionFlags.first
        {
            throw OptionParser.Failure(description: "\(flag) needs --compression")
        }
        if self.metricsOn {
            configuration.metricsPath = self.metricsPath ?? "/metrics"
        } else if self.metricsPath != nil {
            throw OptionParser.Failure(description: "--metrics-path needs --metrics")
        }
        if !self.addresses.isEmpty {
            configuration.addresses = self.addresses
        } else if !configuration.unixSockets.isEmpty && !self.portGiven {
            // Only Unix sockets were asked for: no TCP listener.
            configuration.addresses = []
        }
        configuration.log = Log(level: self.logLevel, programStderr: self.logStderr)
        configuration.containsOrphans = true
        configuration.controlGroups = self.controlGroups
        return configuration
    }
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

/// A duration that must not be zero: a timeout of 0 would refuse everything at once.
private func positiveDuration(_ text: String, flag: String) throws(OptionParser.Failure) -> Duration {
    let duration = try OptionParser.duration(text, flag: flag)
    guard duration > .zero else { throw OptionParser.Failure(description: "\(flag): must be more than 0") }
    return duration
}

/// `--auth KIND:ARG`, or a route's `auth`: the policy, with its file read or its command's program
/// found now, so that a mistake stops wsgate (or a reload) before anything is served.
func authPolicy(_ text: String) throws(OptionParser.Failure) -> AuthPolicy {
    do {
        let policy = try AuthPolicy(parsing: text)
        if case .command(let command) = policy { _ = try checkedProgram(command) }
        try policy.checkCredentialFile()
        return policy
    } catch {
        throw OptionParser.Failure(description: "--auth: \(error)")
    }
}
