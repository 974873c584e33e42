import Reactor

/// Serves the registry at `--metrics-path` (default `/metrics`) to plain GET and HEAD requests,
/// in the Prometheus text format. First among the responders, so the path is its own whatever
/// else is configured (an upgrade to it still goes to a route). Anyone who can reach the port can
/// read it: restrict it with `--address`, a firewall or a reverse proxy (see the README).
final class MetricsEndpoint: HTTPResponder {
    let name = "metrics"
    let path: String
    unowned let server: GatewayServer
    let registry: MetricsRegistry

    init(path: String, registry: MetricsRegistry, server: GatewayServer) {
        self.path = path
        self.registry = registry
        self.server = server
    }

    func serve(_ exchange: HTTPExchange) -> Bool {
        let request = exchange.request
        guard request.path == self.path else { return false }
        guard request.method == "GET" || request.isHead else {
            exchange.respond(status: 405, headers: [("Allow", "GET, HEAD")],
                             text: "method \(request.method) not allowed: use GET or HEAD")
            return true
        }
        var counters = self.registry.snapshot(sessions: self.server.liveSessions, roomBus: self.server.roomBus?.counters)
        var programs = self.server.programs.count
        // With --threads, the other loops' counters as they published them (at most a second old).
        for other in self.server.coordinator?.metrics(besides: self.server.loopIndex) ?? [] {
            counters.add(other.counters)
            programs += other.programs
        }
        let text = MetricsRegistry.render(counters, programsRunning: programs, process: ProcessStatistics.current())
        exchange.respond(status: 200, headers: [("Content-Type", MetricsText.contentType), ("Cache-Control", "no-store")],
                         body: .bytes(Array(text.utf8)))
        return true
    }
}
