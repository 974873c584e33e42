import Reactor
import WebSocket

/// Reload on SIGHUP: the configuration is read again (`Configuration.reloadConfiguration`) and
/// applied to new connections, while every live session keeps the route, settings and program it
/// started with.
///
/// - Routes: a new router is made; sessions already routed hold their `ServedRoute`.
/// - Long-lived programs (shared, shared-json, fanout) are keyed by mode and command: one whose
///   command is unchanged keeps running with its sessions; a new one is started before anything
///   changes, so one that cannot start fails the reload; one no route uses any more is retired:
///   its sessions are closed with 1012 (service restart) when its route is still served by
///   something else, or with 1001 (going away) when the route is gone, then it is stopped.
/// - Listeners are not changed: a different address, port or `ssl` is logged
///   (`config.listener_unchanged`) and the old one kept; the rest of the reload applies.
/// - TLS: the certificate, key and CA are loaded again, as a reload without a file does.
/// - A configuration that cannot be read, or a program that cannot start, changes nothing and is
///   logged as `config.reload_failed`.
extension GatewayServer {
    func reloadOnSignal() {
        guard let source = self.configuration.reloadConfiguration else {
            self.reloadTLS()
            return
        }
        let started = ContinuousClock.now
        let next: Configuration
        do {
            next = try source()
        } catch {
            if self.speaksForProcess { self.configuration.log.error("config.reload_failed", [("error", "\(error)"), ("changed", "nothing")]) }
            return
        }
        self.reload(next, started: started)
    }

    /// Applies `next` for new connections (see the extension's comment). On the loop thread.
    func reload(_ proposed: Configuration, started: ContinuousClock.Instant = .now) {
        let log = proposed.log
        var next = proposed
        let old = self.configuration
        if next.addresses != old.addresses || next.port != old.port || (next.tls == nil) != (old.tls == nil) {
            if self.speaksForProcess { log.error("config.listener_unchanged", [
                ("listening", "\(Self.listenText(old))"), ("asked", "\(Self.listenText(next))"),
                ("why", "changing where wsgate listens needs a restart"),
            ]) }
            next.addresses = old.addresses
            next.port = old.port
            if (next.tls == nil) != (old.tls == nil) { next.tls = old.tls }
        }
        if self.loopIndex > 0 { next.log = next.log.with("loop", self.loopIndex) }
        next.maxConnections = old.maxConnections
        next.containsOrphans = old.containsOrphans
        next.reloadConfiguration = next.reloadConfiguration ?? old.reloadConfiguration

        let served = next.routes.map { ServedRoute($0, defaults: next) }
        // New long-lived programs first: one that cannot start leaves everything as it was.
        var newServices: [String: any RouteService] = [:]
        var wanted = Set<String>()
        for route in served {
            guard let key = Self.serviceKey(for: route.route) else { continue }
            wanted.insert(key)
            guard self.services[key] == nil, newServices[key] == nil, let service = self.makeService(for: route) else { continue }
            do {
                try service.start()
            } catch {
                for service in newServices.values { service.beginShutdown() }
                if self.speaksForProcess { log.error("config.reload_failed", [
                    ("error", "cannot start the program of \(route.pattern) (\(route.route.handler.name)): \(error)"),
                    ("changed", "nothing"),
                ]) }
                return
            }
            newServices[key] = service
        }
        let changes = ConfigurationChanges(from: self.router.routes, old: old, to: served, new: next)
        let stillServed = Set(served.map(\.pattern))
        var retired: [String] = []
        for (key, service) in self.services where !wanted.contains(key) {
            let patterns = self.router.routes.filter { Self.serviceKey(for: $0.route) == key }.map(\.pattern)
            if patterns.contains(where: stillServed.contains) {
                service.retire(code: .serviceRestart, reason: "the route's program changed")
            } else {
                service.retire(code: .goingAway, reason: "the route was removed")
            }
            self.services[key] = nil
            retired.append(key)
        }
        self.services.merge(newServices) { kept, _ in kept }
        self.configuration = next
        self.router = Router(served)
        self.defaultSettings = RouteSettings(next)
        if next.tls != nil { self.reloadTLS() }
        let elapsed = ContinuousClock.now - started
        var fields = changes.logFields
        fields.append(("programs_started", newServices.count))
        fields.append(("programs_retired", retired.count))
        fields.append(("sessions", self.connectionCount))
        fields.append(("duration_us", elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
        if self.speaksForProcess { log.info("config.reloaded", fields) }
    }

    private static func listenText(_ configuration: Configuration) -> String {
        configuration.addresses.joined(separator: ",") + " port \(configuration.port)" + (configuration.tls == nil ? "" : " tls")
    }
}

/// What a reload changed, for its one log line: routes added, removed and changed (with the
/// options that changed), and the gateway-wide options that changed.
struct ConfigurationChanges {
    var added: [String] = []
    var removed: [String] = []
    var changed: [String] = []
    var options: [String] = []

    init(from oldRoutes: [ServedRoute], old: GatewayServer.Configuration, to newRoutes: [ServedRoute],
         new: GatewayServer.Configuration) {
        let before = Dictionary(oldRoutes.map { ($0.pattern, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Set(newRoutes.map(\.pattern))
        for route in newRoutes {
            guard let previous = before[route.pattern] else {
                self.added.append(route.pattern)
                continue
            }
            var what = route.settings.changedOptions(since: previous.settings)
            if GatewayServer.describe(route.route.handler).map(\.1.description)
                != GatewayServer.describe(previous.route.handler).map(\.1.description)
            {
                what.insert("handler", at: 0)
            }
            if !what.isEmpty { self.changed.append("\(route.pattern)(\(what.joined(separator: ",")))") }
        }
        self.removed = oldRoutes.map(\.pattern).filter { !after.contains($0) }
        self.options = RouteSettings(new).changedOptions(since: RouteSettings(old))
        let globals: [(String, Bool)] = [
            ("handshake-timeout", new.handshakeTimeout != old.handshakeTimeout),
            ("close-timeout", new.closeTimeout != old.closeTimeout),
            ("shutdown-timeout", new.shutdownTimeout != old.shutdownTimeout),
            ("max-header-size", new.maxRequestHeadSize != old.maxRequestHeadSize),
            ("maxforks", new.maxPrograms != old.maxPrograms && !self.options.contains("maxforks")),
            ("loglevel", new.log.level != old.log.level),
            ("ssl", new.tls?.certificateFile != old.tls?.certificateFile || new.tls?.keyFile != old.tls?.keyFile
                || new.tls?.clientCAFile != old.tls?.clientCAFile),
        ]
        self.options += globals.filter(\.1).map(\.0)
    }

    var logFields: [(String, any CustomStringConvertible)] {
        func list(_ items: [String]) -> String { items.isEmpty ? "-" : items.joined(separator: " ") }
        return [("routes_added", list(self.added)), ("routes_removed", list(self.removed)),
                ("routes_changed", list(self.changed)), ("options_changed", list(self.options))]
    }
}
