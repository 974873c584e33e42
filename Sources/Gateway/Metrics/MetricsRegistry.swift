import Reactor

/// The gateway's counters (`--metrics`): one registry per server, on its loop thread, so nothing
/// is locked; per-route counters are `RouteMetrics` objects the sessions hold. What is counted
/// where:
///
/// - a session's messages, bytes and close code: folded in when it ends, the live sessions' own
///   counts added at each scrape (nothing per message);
/// - sessions opened: at the 101; slow-consumer closes: when one is dropped;
/// - refused upgrades (by status) and answered plain requests (by responder and status): where
///   their access line is written;
/// - program spawns and spawn failures: where the server spawns (per-session, long-lived and CGI);
/// - keepalive round trips: when the pong to the gateway's ping arrives.
///
/// Gauges (connections open, programs running) and the `process_*` figures are read at the
/// scrape. nil on the server when metrics are off: then none of this is counted.
final class MetricsRegistry {
    /// In the order the routes were given, so a scrape lists them as the command line does; a route
    /// a reload adds comes after them. A route a reload removes keeps its counters (they only grow).
    private(set) var routes: [RouteMetrics]
    private var routesByPattern: [String: RouteMetrics]
    private var handshakeFailures: [Int: Int] = [:]
    private var requests: [RequestKey: Int] = [:]
    var processSpawns = 0
    var processSpawnFailures = 0

    struct RequestKey: Hashable, Comparable, Sendable {
        let responder: String
        let status: Int
        static func < (a: Self, b: Self) -> Bool { (a.responder, a.status) < (b.responder, b.status) }
    }

    init(routes: [Route]) {
        var seen: [String: RouteMetrics] = [:]
        var ordered: [RouteMetrics] = []
        for route in routes where seen[route.pattern] == nil {
            let metrics = RouteMetrics(pattern: route.pattern)
            seen[route.pattern] = metrics
            ordered.append(metrics)
        }
        self.routes = ordered
        self.routesByPattern = seen
    }

    /// The counters of the route `pattern`, made on first use (a route a reload added).
    func route(_ pattern: String) -> RouteMetrics {
        if let metrics = self.routesByPattern[pattern] { return metrics }
        let metrics = RouteMetrics(pattern: pattern)
        self.routesByPattern[pattern] = metrics
        self.routes.append(metrics)
        return metrics
    }

    /// An upgrade refused before the 101 (no route, a bad handshake, a forbidden origin, a program
    /// that could not start, too many connections).
    func handshakeFailed(status: Int) {
        self.handshakeFailures[status, default: 0] += 1
    }

    /// A plain HTTP request answered (its access line written), by the responder that took it
    /// ("-" when none did and it got the old refusal).
    func requestAnswered(responder: String, status: Int) {
        self.requests[RequestKey(responder: responder, status: status), default: 0] += 1
    }

    /// A handshake to `pattern` refused for its credentials (`wsgate_auth_refusals_total`);
    /// `reject` counts its status with `handshakeFailed` too, as for every refused upgrade.
    func authRefused(route pattern: String) {
        self.route(pattern).authRefusals += 1
    }

    /// The exposition of every family: the folded counters plus what `sessions` (the live ones)
    /// have counted so far.
    func render(sessions: some Sequence<Session>, programsRunning: Int, roomBus: RoomBus.Counters?,
                process: ProcessStatistics) -> String {
        Self.render(self.snapshot(sessions: sessions, roomBus: roomBus), programsRunning: programsRunning,
                    process: process)
    }

    /// Every counter as values, the live sessions' counts added: what another loop's scrape adds
    /// to its own (`--threads`).
    func snapshot(sessions: some Sequence<Session>, roomBus: RoomBus.Counters?) -> Snapshot {
        var open: [ObjectIdentifier: Int] = [:]
        var live: [ObjectIdentifier: (messagesIn: Int, messagesOut: Int, bytesIn: Int, bytesOut: Int)] = [:]
        for session in sessions {
            guard let route = session.routeMetrics else { continue }
            let key = ObjectIdentifier(route)
            open[key, default: 0] += 1
            let sum = live[key] ?? (0, 0, 0, 0)
            live[key] = (sum.messagesIn + session.messagesIn, sum.messagesOut + session.messagesOut,
                         sum.bytesIn + session.bytesIn, sum.bytesOut + session.bytesOut)
        }
        let routes = self.routes.map { route in
            let sum = live[ObjectIdentifier(route)] ?? (0, 0, 0, 0)
            return Snapshot.Route(
                pattern: route.pattern, open: open[ObjectIdentifier(route)] ?? 0, sessions: route.sessions,
                messagesReceived: route.messagesReceived + sum.messagesIn, messagesSent: route.messagesSent + sum.messagesOut,
                bytesReceived: route.bytesReceived + sum.bytesIn, bytesSent: route.bytesSent + sum.bytesOut,
                closes: route.closes, slowConsumerCloses: route.slowConsumerCloses, authRefusals: route.authRefusals,
                pingRoundTrips: route.pingRoundTrips)
        }
        return Snapshot(routes: routes, handshakeFailures: self.handshakeFailures, requests: self.requests,
                        processSpawns: self.processSpawns, processSpawnFailures: self.processSpawnFailures,
                        roomBus: roomBus)
    }

    /// The counters of one loop (or the sum of several), as values that may cross threads.
    struct Snapshot: Sendable {
        struct Route: Sendable {
            let pattern: String
            var open, sessions, messagesReceived, messagesSent, bytesReceived, bytesSent: Int
            var closes: [UInt16: Int]
            var slowConsumerCloses, authRefusals: Int
            var pingRoundTrips: Histogram
        }

        var routes: [Route]
        var handshakeFailures: [Int: Int]
        var requests: [RequestKey: Int]
        var processSpawns, processSpawnFailures: Int
        var roomBus: RoomBus.Counters?

        /// Adds `other`'s counts; its routes this one does not have come after this one's.
        mutating func add(_ other: Snapshot) {
            for route in other.routes {
                guard let index = self.routes.firstIndex(where: { $0.pattern == route.pattern }) else {
                    self.routes.append(route)
                    continue
                }
                self.routes[index].open += route.open
                self.routes[index].sessions += route.sessions
                self.routes[index].messagesReceived += route.messagesReceived
                self.routes[index].messagesSent += route.messagesSent
                self.routes[index].bytesReceived += route.bytesReceived
                self.routes[index].bytesSent += route.bytesSent
                self.routes[index].closes.merge(route.closes, uniquingKeysWith: +)
                self.routes[index].slowConsumerCloses += route.slowConsumerCloses
                self.routes[index].authRefusals += route.authRefusals
                self.routes[index].pingRoundTrips.add(route.pingRoundTrips)
            }
            self.handshakeFailures.merge(other.handshakeFailures, uniquingKeysWith: +)
            self.requests.merge(other.requests, uniquingKeysWith: +)
            self.processSpawns += other.processSpawns
            self.processSpawnFailures += other.processSpawnFailures
            if let bus = other.roomBus {
                var sum = self.roomBus ?? RoomBus.Counters()
                sum.published += bus.published
                sum.received += bus.received
                sum.dropped += bus.dropped
                sum.malformed += bus.malformed
                self.roomBus = sum
            }
        }
    }

    static func render(_ snapshot: Snapshot, programsRunning: Int, process: ProcessStatistics) -> String {
        var out = MetricsText()
        func perRoute(_ name: String, _ type: String, _ help: String, _ value: (Snapshot.Route) -> Int) {
            out.family(name, type, help)
            for route in snapshot.routes { out.sample(name, [("route", route.pattern)], value(route)) }
        }
        perRoute("wsgate_connections_open", "gauge", "WebSocket sessions open now.") { $0.open }
        perRoute("wsgate_sessions_total", "counter", "WebSocket sessions opened (101 sent).") { $0.sessions }
        perRoute("wsgate_messages_received_total", "counter", "WebSocket messages received from clients.") {
            $0.messagesReceived
        }
        perRoute("wsgate_messages_sent_total", "counter", "WebSocket messages sent to clients.") { $0.messagesSent }
        perRoute("wsgate_bytes_received_total", "counter",
                 "Bytes read from WebSocket sessions' connections, the upgrade request included.") { $0.bytesReceived }
        perRoute("wsgate_bytes_sent_total", "counter",
                 "Bytes written to WebSocket sessions' connections, the 101 response included.") { $0.bytesSent }
        out.family("wsgate_closes_total", "counter", "WebSocket sessions ended, by close code (1006: none exchanged).")
        for route in snapshot.routes {
            for (code, count) in route.closes.sorted(by: { $0.key < $1.key }) {
                out.sample("wsgate_closes_total", [("route", route.pattern), ("code", String(code))], count)
            }
        }
        perRoute("wsgate_slow_consumer_closes_total", "counter",
                 "Sessions closed with 1008 for falling more than --max-queued-bytes behind.") { $0.slowConsumerCloses }
        perRoute("wsgate_auth_refusals_total", "counter", "Upgrades refused by the auth step.") { $0.authRefusals }
        out.family("wsgate_ping_rtt_seconds", "histogram", "Round trip of keepalive pings, ping sent to pong received.")
        for route in snapshot.routes {
            out.histogram("wsgate_ping_rtt_seconds", [("route", route.pattern)], route.pingRoundTrips)
        }

        out.family("wsgate_handshake_failures_total", "counter", "Upgrade requests refused, by HTTP status.")
        for (status, count) in snapshot.handshakeFailures.sorted(by: { $0.key < $1.key }) {
            out.sample("wsgate_handshake_failures_total", [("status", String(status))], count)
        }
        out.family("wsgate_http_requests_total", "counter",
                   "Plain HTTP requests answered, by responder (static, cgi, devconsole, metrics; - for none) and status.")
        for (key, count) in snapshot.requests.sorted(by: { $0.key < $1.key }) {
            out.sample("wsgate_http_requests_total", [("responder", key.responder), ("status", String(key.status))], count)
        }
        out.family("wsgate_processes_running", "gauge",
                   "Programs started and not yet cleaned up: per-session, long-lived and CGI.")
        out.sample("wsgate_processes_running", [], programsRunning)
        out.family("wsgate_process_spawns_total", "counter", "Programs started.")
        out.sample("wsgate_process_spawns_total", [], snapshot.processSpawns)
        out.family("wsgate_process_spawn_failures_total", "counter", "Programs that could not be started.")
        out.sample("wsgate_process_spawn_failures_total", [], snapshot.processSpawnFailures)

        if let bus = snapshot.roomBus {
            out.family("wsgate_redis_published_total", "counter", "Room messages handed to Redis (--redis).")
            out.sample("wsgate_redis_published_total", [], bus.published)
            out.family("wsgate_redis_received_total", "counter", "Room messages from other instances delivered here.")
            out.sample("wsgate_redis_received_total", [], bus.received)
            out.family("wsgate_redis_dropped_total", "counter",
                       "Room messages dropped: not publishable (Redis down or too slow) or not deliverable.")
            out.sample("wsgate_redis_dropped_total", [], bus.dropped)
            out.family("wsgate_redis_malformed_total", "counter", "Messages on a room's channel that were no wsgate envelope.")
            out.sample("wsgate_redis_malformed_total", [], bus.malformed)
        }

        out.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
        out.sample("process_cpu_seconds_total", [], process.cpuSeconds)
        out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        out.sample("process_resident_memory_bytes", [], process.residentBytes)
        out.family("process_open_fds", "gauge", "Number of open file descriptors.")
        out.sample("process_open_fds", [], process.openFiles)
        out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.")
        out.sample("process_max_fds", [], process.maxOpenFiles)
        out.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
        out.sample("process_start_time_seconds", [], process.startTimeSeconds)
        return out.text
    }
}
