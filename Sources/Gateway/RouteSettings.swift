import WebSocket

/// What the sessions of one route run with: limits, keepalive, origin checks, subprotocols,
/// compression, the programs' environment, response headers.
///
/// Resolved once per route from the gateway's configuration and the route's own overrides, then
/// copied by each session when its handshake succeeds: a reload that changes a route never changes
/// a session already open on it.
public struct RouteSettings: Sendable {
    /// A session that received nothing for this long gets a ping; nil disables keepalive.
    public var pingInterval: Duration?
    /// How long after a ping something must arrive before the session is closed with 1011.
    public var pingTimeout: Duration
    /// A session with no message either way for this long is closed with 1001; nil disables it.
    public var idleTimeout: Duration?
    /// The largest message accepted; a larger one closes the session with 1009.
    public var maxMessageSize: Int
    /// Bytes queued for one client (or one program's stdin) before reading pauses.
    public var maxQueuedBytes: Int
    /// Per-session programs of this route at once; beyond it new upgrades get 503. nil: only the
    /// gateway-wide bound (`Configuration.maxPrograms`) applies.
    public var maxPrograms: Int?
    /// Origins allowed to connect; nil: any (see `Configuration.allowedOrigins`).
    public var allowedOrigins: [String]?
    public var sameOrigin: Bool
    /// Subprotocols offered, most preferred first.
    public var subprotocols: [String]
    /// permessage-deflate for this route; nil declines it.
    public var compression: PerMessageDeflate.Configuration?
    /// Variables of wsgate's own environment passed to the route's programs.
    public var passEnvironment: [String]
    /// Extra variables for the route's programs. Like passed-through ones, they never replace a
    /// variable wsgate sets itself (REMOTE_ADDR, HTTPS, …).
    public var environment: [String: String] = [:]
    /// Extra time each termination step waits for the route's programs.
    public var closeGrace: Duration
    /// Header fields for every response, for 101 responses only, and for refusals only.
    public var headers: [(name: String, value: String)]
    public var upgradeHeaders: [(name: String, value: String)]
    public var refusalHeaders: [(name: String, value: String)]

    /// The gateway-wide values of `configuration`, without compression.
    public init(_ configuration: GatewayServer.Configuration) {
        self.pingInterval = configuration.pingInterval
        self.pingTimeout = configuration.pingTimeout
        self.idleTimeout = configuration.idleTimeout
        self.maxMessageSize = configuration.maxMessageSize
        self.maxQueuedBytes = configuration.maxQueuedBytes
        self.maxPrograms = configuration.maxPrograms
        self.allowedOrigins = configuration.allowedOrigins
        self.sameOrigin = configuration.sameOrigin
        self.subprotocols = configuration.subprotocols
        self.passEnvironment = configuration.passEnvironment
        self.closeGrace = configuration.closeGrace
        self.headers = configuration.headers
        self.upgradeHeaders = configuration.upgradeHeaders
        self.refusalHeaders = configuration.refusalHeaders
    }
}

/// A route as the gateway serves it: the route, its resolved settings, and the handshake and origin
/// policy made from them once, not per connection.
/// One route's settings held by reference: every session of the route keeps the same one (a
/// pointer) instead of its own copy of the struct (a few hundred bytes per idle connection).
final class SharedRouteSettings {
    let value: RouteSettings

    init(_ value: RouteSettings) {
        self.value = value
    }
}

final class ServedRoute {
    let route: Route
    let settings: RouteSettings
    let handshake: ServerHandshake
    let originPolicy: OriginPolicy
    /// `settings`, for sessions to share.
    let sharedSettings: SharedRouteSettings

    init(_ route: Route, defaults: GatewayServer.Configuration) {
        var settings = route.settings ?? RouteSettings(defaults)
        settings.compression = route.compression
        self.route = route
        self.settings = settings
        self.sharedSettings = SharedRouteSettings(settings)
        self.handshake = ServerHandshake(subprotocols: settings.subprotocols,
                                         extraHeaders: settings.headers + settings.upgradeHeaders)
        self.originPolicy = OriginPolicy(allowed: settings.allowedOrigins, sameOrigin: settings.sameOrigin,
                                         tls: defaults.tls != nil)
    }

    var pattern: String { self.route.pattern }
}

extension RouteSettings {
    /// The options that differ from `other`, by the configuration file's key names.
    func changedOptions(since other: RouteSettings) -> [String] {
        func names(_ headers: [(name: String, value: String)]) -> [String] { headers.map { "\($0.name): \($0.value)" } }
        let compared: [(String, Bool)] = [
            ("ping-interval", self.pingInterval != other.pingInterval),
            ("ping-timeout", self.pingTimeout != other.pingTimeout),
            ("idle-timeout", self.idleTimeout != other.idleTimeout),
            ("max-message-size", self.maxMessageSize != other.maxMessageSize),
            ("max-queued-bytes", self.maxQueuedBytes != other.maxQueuedBytes),
            ("maxforks", self.maxPrograms != other.maxPrograms),
            ("origin", self.allowedOrigins != other.allowedOrigins),
            ("sameorigin", self.sameOrigin != other.sameOrigin),
            ("subprotocol", self.subprotocols != other.subprotocols),
            ("compression", self.compression != other.compression),
            ("passenv", self.passEnvironment != other.passEnvironment),
            ("env", self.environment != other.environment),
            ("closems", self.closeGrace != other.closeGrace),
            ("headers", names(self.headers) != names(other.headers) || names(self.upgradeHeaders) != names(other.upgradeHeaders)
                || names(self.refusalHeaders) != names(other.refusalHeaders)),
        ]
        return compared.filter(\.1).map(\.0)
    }
}
