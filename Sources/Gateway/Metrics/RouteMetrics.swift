/// The counters of one route, resolved once at the handshake and held by its sessions.
///
/// Nothing here is touched per message: a session counts its messages and bytes in its own
/// fields (which its close log line reports too) and folds them in here when it ends; a scrape
/// adds the live sessions' own counts (`MetricsRegistry.render`). So counting costs an echo
/// session two plain adds and a dictionary update at open and close, and nothing in between.
/// Bound to the loop thread, like the sessions.
final class RouteMetrics {
    /// The route's pattern, the `route` label.
    let pattern: String
    var sessions = 0
    var messagesReceived = 0
    var messagesSent = 0
    var bytesReceived = 0
    var bytesSent = 0
    /// Sessions ended, by the close code their close log line names (1006 when none was exchanged).
    var closes: [UInt16: Int] = [:]
    var slowConsumerCloses = 0
    /// Handshakes the auth step refused (see `MetricsRegistry.authRefused`).
    var authRefusals = 0
    /// Keepalive ping to pong round trips.
    var pingRoundTrips = Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

    init(pattern: String) {
        self.pattern = pattern
    }

    /// Adds an ended session's counts.
    func fold(_ session: Session, code: UInt16) {
        self.messagesReceived += session.messagesIn
        self.messagesSent += session.messagesOut
        self.bytesReceived += session.bytesIn
        self.bytesSent += session.bytesOut
        self.closes[code, default: 0] += 1
    }
}

/// A Prometheus histogram: cumulative bucket counts are made at rendering, so observing adds to one
/// bucket.
struct Histogram: Sendable {
    /// Upper bounds, ascending; +Inf is implied.
    let bounds: [Double]
    /// Observations per bucket (not cumulative), the last for +Inf.
    private(set) var counts: [Int]
    private(set) var sum = 0.0
    var count: Int { self.counts.reduce(0, +) }

    init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// Adds another histogram's observations (the same bounds: another loop's of the same route).
    mutating func add(_ other: Histogram) {
        guard other.bounds == self.bounds else { return }
        for index in self.counts.indices { self.counts[index] += other.counts[index] }
        self.sum += other.sum
    }

    mutating func observe(_ value: Double) {
        let index = self.bounds.firstIndex { value <= $0 } ?? self.bounds.count
        self.counts[index] += 1
        self.sum += value
    }
}
