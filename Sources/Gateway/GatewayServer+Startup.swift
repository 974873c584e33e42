import Reactor

extension GatewayServer {
    /// What the server serves, said once at start-up, as websocketd's "Serving using application"
    /// and "Starting WebSocket server" lines say it: one `server.route` line per route (path,
    /// handler, mode, command, and a URL to try), then one `server.listen` line per address with
    /// its base URL.
    ///
    /// A wildcard address (`0.0.0.0`, `::`) is no address a client can use, so its line says
    /// `wildcard=` which addresses it stands for, and its URL uses the loopback address of its
    /// family, which reaches it from this machine. Route URLs use the first listen address.
    func logStartup() {
        let log = self.configuration.log
        guard log.enabled(.info) else { return }
        let scheme = self.configuration.tls == nil ? "ws" : "wss"
        let firstURL = self.boundAddresses.first { !$0.isUnix }.map { Self.baseURL(of: $0, scheme: scheme) }
        for route in self.configuration.routes {
            var fields = Self.describe(route.handler)
            fields.insert(("path", route.pattern), at: 0)
            if let firstURL { fields.append(("url", firstURL + route.pattern)) }
            log.info("server.route", fields)
        }
        let httpURL = self.boundAddresses.first { !$0.isUnix }
            .map { Self.baseURL(of: $0, scheme: scheme == "ws" ? "http" : "https") }
        for (kind, directory) in [("cgi", self.configuration.cgiDirectory), ("static", self.configuration.staticDirectory)] {
            guard let directory else { continue }
            log.info("server.\(kind)", [("dir", directory), ("url", (httpURL ?? "") + "/")])
        }
        for listener in self.listeners {
            let address = listener.address
            // A passed socket's mode and options are the service manager's, not ours.
            let passed: [(String, any CustomStringConvertible)] = listener.passedName.map {
                [("passed", $0.isEmpty ? "-" : $0)]
            } ?? []
            if let path = address.unixPath {
                let mode = passed.isEmpty ? [("mode", "0" + String(self.configuration.unixSocketMode, radix: 8))] : passed
                log.info("server.listen", [("unix", path)] + mode)
                continue
            }
            var fields: [(String, any CustomStringConvertible)] = [
                ("address", address), ("url", Self.baseURL(of: address, scheme: scheme) + "/"),
            ] + passed
            if address.isWildcard {
                fields.append(("wildcard", "every IPv\(address.isIPv6 ? 6 : 4) address of this host"))
            }
            log.info("server.listen", fields)
        }
        if let note = self.containmentNote {
            log.info("server.containment", [("mechanism", note.mechanism), ("cgroup", note.cgroup)])
        }
    }

    /// `ws://127.0.0.1:8080`, `ws://[::1]:8080`; a wildcard address as its family's loopback address.
    static func baseURL(of address: SocketAddress, scheme: String = "ws") -> String {
        let host = address.isWildcard ? (address.isIPv6 ? "::1" : "127.0.0.1") : address.host
        return address.isIPv6 ? "\(scheme)://[\(host)]:\(address.port)" : "\(scheme)://\(host):\(address.port)"
    }

    /// The handler, and for programs their mode and command, as log fields.
    static func describe(_ handler: RouteHandler) -> [(String, any CustomStringConvertible)] {
        switch handler {
        case .echo, .broadcast, .custom:
            return [("handler", handler.name)]
        case .program(let command, let mode):
            return [("handler", handler.name), ("mode", mode), ("command", command)]
        case .directory(let directory, let mode):
            return [("handler", handler.name), ("mode", mode), ("dir", directory)]
        }
    }
}
