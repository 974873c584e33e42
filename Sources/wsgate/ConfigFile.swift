import Gateway
import Reactor

/// The `--config` file, read into what the serve flags' mapping (`ServeSettings`) applies: each
/// top-level key is a serve flag named without `--`; each `[[route]]` table a route with its own
/// options. Every error names the file, the line and the key.
struct ConfigFile {
    /// A key of the file as the flag it stands for, with one of its values.
    struct Item {
        let key: String
        let flag: String
        let value: String
        let line: Int
    }

    /// One `[[route]]` table.
    struct RouteTable {
        let line: Int
        var path: String
        var handler: String
        var handlerLine: Int
        var pathLine: Int
        /// Its options that are serve flags, applied over the gateway-wide settings.
        var items: [Item] = []
        var environment: [String: String] = [:]
        var compression: Bool?
    }

    /// What a route's key does.
    enum RouteOption {
        /// Applies this serve flag to the route's copy of the settings (`RouteSettings` takes it).
        case flag(String)
        /// `compression = true|false`: permessage-deflate with the `--compression-*` settings, or none.
        case compression
        /// `env`: a table of extra variables for the route's programs.
        case environment
    }

    /// Every per-route option besides `path` and `handler`: adding one is a line here (and, for a
    /// new flag, its field in `RouteSettings`).
    static let routeOptions: [String: RouteOption] = [
        "ping-interval": .flag("--ping-interval"),
        "ping-timeout": .flag("--ping-timeout"),
        "idle-timeout": .flag("--idle-timeout"),
        "max-message-size": .flag("--max-message-size"),
        "max-queued-bytes": .flag("--max-queued-bytes"),
        "maxforks": .flag("--maxforks"),
        "origin": .flag("--origin"),
        "sameorigin": .flag("--sameorigin"),
        "subprotocol": .flag("--subprotocol"),
        "passenv": .flag("--passenv"),
        "closems": .flag("--closems"),
        "headers": .flag("--header"),
        "compression": .compression,
        "env": .environment,
        "auth": .flag("--auth"),
    ]

    let path: String
    var globals: [Item] = []
    var routes: [RouteTable] = []

    /// Reads and checks the file. - Throws: a failure naming the file, line and key.
    static func load(_ path: String) throws(OptionParser.Failure) -> ConfigFile {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path)
        } catch {
            throw OptionParser.Failure(description: "\(path): cannot read: \(error.errno)")
        }
        return try ConfigFile(bytes, path: path)
    }

    init(_ bytes: [UInt8], path: String) throws(OptionParser.Failure) {
        self.path = path
        let document: TOMLTable
        do throws(TOMLError) {
            document = try TOMLParser.parse(bytes)
        } catch {
            throw OptionParser.Failure(description: "\(path):\(error.line): \(error.message)")
        }
        for entry in document.entries {
            if entry.key == "route" {
                guard case .array(let tables) = entry.value else {
                    throw self.failure(entry.line, "route", "routes are [[route]] tables, not \(entry.value.kind)")
                }
                for table in tables {
                    guard case .table(let table) = table else {
                        throw self.failure(entry.line, "route", "routes are [[route]] tables")
                    }
                    self.routes.append(try self.routeTable(table))
                }
                continue
            }
            guard let flag = ServeFlags.all.first(where: { $0.name == "--" + entry.key }), flag.isFileKey else {
                throw self.failure(entry.line, entry.key, "unknown key (top-level keys are the serve flags without --; see wsgate --help)")
            }
            for value in try self.values(entry, for: flag) {
                self.globals.append(Item(key: entry.key, flag: flag.name, value: value, line: entry.line))
            }
        }
    }

    private func routeTable(_ table: TOMLTable) throws(OptionParser.Failure) -> RouteTable {
        func text(_ key: String) throws(OptionParser.Failure) -> String {
            guard let entry = table[key] else { throw self.failure(table.line, key, "a [[route]] needs a \(key)") }
            guard case .string(let value) = entry.value, !value.isEmpty else {
                throw self.failure(entry.line, key, "expects a non-empty string, not \(entry.value.kind)")
            }
            return value
        }
        var route = RouteTable(line: table.line, path: try text("path"), handler: try text("handler"),
                               handlerLine: table["handler"]!.line, pathLine: table["path"]!.line)
        do {
            try checkRoutePath(route.path, flag: "path")
        } catch {
            throw self.failure(table["path"]!.line, "path", String(error.description.dropFirst("path: ".count)))
        }
        for entry in table.entries where entry.key != "path" && entry.key != "handler" {
            switch Self.routeOptions[entry.key] {
            case nil:
                throw self.failure(entry.line, entry.key, "unknown route option (see the README's list)")
            case .compression:
                guard case .boolean(let on) = entry.value else {
                    throw self.failure(entry.line, entry.key, "expects true or false, not \(entry.value.kind)")
                }
                route.compression = on
            case .environment:
                route.environment = try self.environment(entry)
            case .flag(let name):
                let flag = ServeFlags.all.first { $0.name == name }!
                for value in try self.values(entry, for: flag) {
                    route.items.append(Item(key: entry.key, flag: name, value: value, line: entry.line))
                }
            }
        }
        return route
    }

    private func environment(_ entry: TOMLTable.Entry) throws(OptionParser.Failure) -> [String: String] {
        guard case .table(let table) = entry.value else {
            throw self.failure(entry.line, "env", "expects a table of NAME = \"value\", not \(entry.value.kind)")
        }
        var variables: [String: String] = [:]
        for variable in table.entries {
            guard !variable.key.isEmpty, !variable.key.contains("="), !variable.key.utf8.contains(0) else {
                throw self.failure(variable.line, "env", "'\(variable.key)' is not a variable name")
            }
            switch variable.value {
            case .string(let value) where !value.utf8.contains(0): variables[variable.key] = value
            case .integer(let value): variables[variable.key] = String(value)
            default:
                throw self.failure(variable.line, "env.\(variable.key)", "expects a string, not \(variable.value.kind)")
            }
        }
        return variables
    }

    /// The flag values a key's TOML value stands for: a switch takes a boolean; a flag with a value
    /// a string or an integer; a repeatable flag an array of them too (one value each); a
    /// comma-list flag an array (joined).
    private func values(_ entry: TOMLTable.Entry, for flag: ServeFlag) throws(OptionParser.Failure) -> [String] {
        if flag.isSwitch {
            guard case .boolean(let on) = entry.value else {
                throw self.failure(entry.line, entry.key, "expects true or false, not \(entry.value.kind)")
            }
            return [on ? "true" : "false"]
        }
        func scalar(_ value: TOMLValue) throws(OptionParser.Failure) -> String {
            switch value {
            case .string(let text): return text
            case .integer(let number): return String(number)
            default:
                let many = flag.arity == .one ? "" : " or an array of them"
                throw self.failure(entry.line, entry.key, "expects a string or an integer\(many), not \(value.kind)")
            }
        }
        guard case .array(let elements) = entry.value, flag.arity != .one else { return [try scalar(entry.value)] }
        var values: [String] = []
        for element in elements { values.append(try scalar(element)) }
        return flag.arity == .commaList ? [values.joined(separator: ",")] : values
    }

    /// Applies a top-level key to `settings`.
    func apply(_ item: Item, to settings: inout ServeSettings) throws(OptionParser.Failure) {
        do {
            try settings.apply(item.flag, item.value)
        } catch {
            throw self.failure(item, error)
        }
    }

    /// The route a `[[route]]` table describes, its settings the gateway-wide ones with its own
    /// options over them (each replaces the gateway-wide value, even a repeatable one's).
    func route(_ table: RouteTable, over settings: ServeSettings) throws(OptionParser.Failure)
        -> ServeSettings.FileRoute
    {
        var own = settings
        var cleared = Set<String>()
        for item in table.items {
            if cleared.insert(item.flag).inserted { own.clear(item.flag) }
            do {
                try own.apply(item.flag, item.value)
            } catch {
                throw self.failure(item, error)
            }
        }
        var route: Route
        let handlerLine = table.handlerLine
        do throws(OptionParser.Failure) {
            route = try makeRoute(table.path, table.handler, defaultMode: settings.binary ? .binary : .lines,
                                  flag: "route")
        } catch {
            let prefix = "route \(table.path): "
            let message = error.description.hasPrefix(prefix) ? String(error.description.dropFirst(prefix.count)) : error.description
            throw self.failure(handlerLine, "handler", message)
        }
        var resolved = RouteSettings(own.configuration)
        resolved.environment = table.environment
        route.settings = resolved
        route.auth = own.configuration.auth
        route.compression = own.compression(choosing: table.compression)
        return .init(route: route, writtenAs: "\(self.path):\(table.pathLine)", compression: table.compression)
    }

    private func failure(_ item: Item, _ error: OptionParser.Failure) -> OptionParser.Failure {
        // The mapping names the flag; the file's reader knows it as the key on that line.
        let message = error.description.hasPrefix(item.flag + ": ")
            ? String(error.description.dropFirst(item.flag.count + 2)) : error.description
        return self.failure(item.line, item.key, message)
    }

    private func failure(_ line: Int, _ key: String, _ message: String) -> OptionParser.Failure {
        OptionParser.Failure(description: "\(self.path):\(line): \(key): \(message)")
    }
}
