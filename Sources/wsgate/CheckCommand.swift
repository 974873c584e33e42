import Gateway
import WebSocket

/// `wsgate check --config FILE [flags]`: reads the configuration as `wsgate` would serve it, prints
/// what it would listen on and each route with its effective options, and exits 0; or prints the
/// first error (file, line and key) and exits 2. Listens on nothing and starts no program.
func runCheck(_ arguments: [String]) -> Int32 {
    do {
        guard case .serve(let configuration) = try parseCommandLine(arguments) else {
            printError("wsgate check: give --config FILE and any serve flags (see wsgate --help)\n")
            return 2
        }
        print(describeServing(configuration), terminator: "")
        return 0
    } catch {
        printError("wsgate check: \(error)\n")
        return 2
    }
}

/// One `listen` line, then one `route` line per route: its path, handler and every option the
/// configuration file can set for it, by the file's key names.
func describeServing(_ configuration: GatewayServer.Configuration) -> String {
    let scheme = configuration.tls == nil ? "ws" : "wss"
    var text = "listen address=\(configuration.addresses.joined(separator: ",")) port=\(configuration.port) scheme=\(scheme)\n"
    for route in configuration.routes {
        var fields = [("path", route.pattern)] + describeHandler(route.handler)
        fields += describeOptions(route.settings ?? RouteSettings(configuration), compression: route.compression)
        text += "route " + fields.map { "\($0.0)=\(quotedIfNeeded($0.1))" }.joined(separator: " ") + "\n"
    }
    return text
}

private func describeHandler(_ handler: RouteHandler) -> [(String, String)] {
    switch handler {
    case .program(let command, let mode): [("handler", handler.name), ("mode", mode.rawValue), ("command", command.description)]
    case .directory(let path, let mode): [("handler", "dir"), ("mode", mode.rawValue), ("dir", path)]
    default: [("handler", handler.name)]
    }
}

/// The options of `ConfigFile.routeOptions`, as in force.
private func describeOptions(_ settings: RouteSettings, compression: PerMessageDeflate.Configuration?)
    -> [(String, String)]
{
    func duration(_ value: Duration?) -> String {
        guard let value, value > .zero else { return "off" }
        let milliseconds = value.components.seconds * 1000 + value.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
    let headers = settings.headers.map { "\($0.name): \($0.value)" }
    return [
        ("ping-interval", duration(settings.pingInterval)),
        ("ping-timeout", duration(settings.pingTimeout)),
        ("idle-timeout", duration(settings.idleTimeout)),
        ("max-message-size", String(settings.maxMessageSize)),
        ("max-queued-bytes", String(settings.maxQueuedBytes)),
        ("maxforks", settings.maxPrograms.map(String.init) ?? "none"),
        ("origin", settings.allowedOrigins?.joined(separator: ",") ?? "any"),
        ("sameorigin", String(settings.sameOrigin)),
        ("subprotocol", settings.subprotocols.isEmpty ? "-" : settings.subprotocols.joined(separator: ",")),
        ("compression", compression.map { "level \($0.level), window \($0.windowBits)" } ?? "off"),
        ("passenv", settings.passEnvironment.joined(separator: ",")),
        ("env", settings.environment.isEmpty ? "-"
            : settings.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
        ("closems", String(settings.closeGrace.components.seconds * 1000
            + settings.closeGrace.components.attoseconds / 1_000_000_000_000_000)),
        ("headers", headers.isEmpty ? "-" : headers.joined(separator: "; ")),
    ]
}

/// A value with blanks or quotes in double quotes, as the log writes it.
private func quotedIfNeeded(_ value: String) -> String {
    guard value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || value.isEmpty else { return value }
    return "\"" + value.map { $0 == "\"" ? "\\\"" : String($0) }.joined() + "\""
}
