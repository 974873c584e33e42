import WebSocket

extension GatewayServer {
    /// Every setting of a gateway, with its default. The command line only fills this in.
    public struct Configuration {
        /// Addresses to listen on; both wildcards by default, so IPv4 and IPv6 clients are served.
        /// Numeric (`127.0.0.1`, `::1` or `[::1]`) or a name, resolved when the server starts and
        /// listened on at every address it resolves to (`SocketAddress.listening(on:port:)`).
        public var addresses: [String] = ["0.0.0.0", "::"]
        /// The TCP port; 0 picks a free one (see `GatewayServer.boundAddresses`).
        public var port: UInt16 = 8080
        /// Listening sockets passed in by a service manager (systemd socket activation): served
        /// instead of binding `addresses` and `unixSockets`. nil: none were passed.
        public var passedSockets: [SocketActivation.PassedSocket]?
        /// NOTIFY_SOCKET: where to send systemd's READY=1, RELOADING=1 and STOPPING=1; nil: nowhere.
        public var notifySocket: String?
        /// Unix-domain sockets to listen on as well (`--unixsocket`); with no `addresses`, only these.
        public var unixSockets: [String] = []
        /// The file mode of each Unix socket (`--unixsocket-mode`): who may connect.
        public var unixSocketMode: UInt32 = 0o660
        public var routes: [Route] = []
        /// Connections at once, counting handshakes in progress; beyond it new clients get 503. nil:
        /// what the descriptor limit allows (see `GatewayServer.maxConnections`), so that clients get
        /// 503 before the process runs out of descriptors.
        public var maxConnections: Int?
        /// The largest message accepted; a larger one closes the session with 1009.
        public var maxMessageSize = 1 << 20
        /// The largest request head; a larger one gets 431.
        public var maxRequestHeadSize = HTTPHeadParser.defaultMaxSize
        /// Bytes queued for one client before wsgate stops reading from it (echo) or, for broadcast,
        /// drops it with 1008. Reading resumes once the queue is below half of it.
        public var maxQueuedBytes = 1 << 20
        /// A session that received nothing for this long gets a ping; nil disables keepalive.
        public var pingInterval: Duration? = .seconds(30)
        /// How long after a ping something must arrive before the session is closed with 1011.
        public var pingTimeout: Duration = .seconds(10)
        /// A request head must be complete within this, or the connection is closed (slow-loris).
        public var handshakeTimeout: Duration = .seconds(10)
        /// How long to wait for the peer to finish a closing handshake before dropping the connection.
        public var closeTimeout: Duration = .seconds(5)
        /// A session with no message either way for this long is closed with 1001; nil disables it.
        public var idleTimeout: Duration?
        /// How long a graceful shutdown waits for sessions to close before dropping them.
        public var shutdownTimeout: Duration = .seconds(5)
        /// Subprotocols offered to clients, most preferred first.
        public var subprotocols: [String] = []
        /// Programs running at once (websocketd's `--maxforks`); beyond it new upgrades get 503. nil: no limit.
        public var maxPrograms: Int?
        /// Event loops, each on a thread of its own (`--threads`); 1 (the default): the loop runs
        /// on the thread that calls `run()`, as it always did. `once` serves with one loop.
        public var threads = 1
        /// Variables of wsgate's own environment passed to programs (websocketd's `--passenv`).
        public var passEnvironment = ["PATH", "LD_LIBRARY_PATH"]
        /// Extra time each termination step waits for a program (websocketd's `--closems`).
        public var closeGrace: Duration = .zero
        /// Origins allowed to connect (websocketd's `--origin`): "host", "host:port" or
        /// "scheme://host[:port]"; an entry without a port allows any port. nil: any origin.
        public var allowedOrigins: [String]?
        /// Only allow an Origin whose host and port are the request's Host (websocketd's `--sameorigin`).
        public var sameOrigin = false
        /// Header fields for every response (`--header`), for 101 responses only (`--header-ws`), and
        /// for refusals only (`--header-http`).
        public var headers: [(name: String, value: String)] = []
        public var upgradeHeaders: [(name: String, value: String)] = []
        public var refusalHeaders: [(name: String, value: String)] = []
        /// Contain what programs leave behind (PR_SET_CHILD_SUBREAPER): a daemon a program starts with
        /// `setsid` is killed when the program's session ends, and every leftover when the gateway
        /// stops. It makes this process reap children it did not start through the gateway, so it
        /// is off for embedders whose own code waits for children; the wsgate command turns it on.
        public var containsOrphans = false
        /// A cgroup v2 directory per program (`--cgroup`): every descendant, however it detaches,
        /// is killed with the session. Off for embedders; the wsgate command asks for `.automatic`.
        public var controlGroups: ControlGroupSetting = .off
        /// Who may open sessions (`--auth`), for each route without an `auth` of its own; nil: anyone.
        public var auth: AuthPolicy?
        /// How long an auth command may run before it is killed and the request refused with 403.
        public var authCommandTimeout: Duration = .seconds(5)
        /// Serve one session, then stop (`--once`): see `GatewayServer.onceOutcome`.
        public var once = false
        /// TLS (`--ssl`): serve wss:// with these files; nil serves ws://.
        public var tls: TLSSettings?
        /// Serve the files below this directory to plain GET and HEAD requests (`--staticdir`).
        public var staticDirectory: String?
        /// Run the executables below this directory as CGI/1.1 scripts for plain requests (`--cgidir`).
        public var cgiDirectory: String?
        /// A CGI script silent this long is stopped: 504 before its header block, a cut-off
        /// response after it.
        public var cgiTimeout: Duration = .seconds(30)
        /// The largest plain request body read (a CGI POST); a larger one gets 413.
        public var maxRequestBodySize = 1 << 20
        /// How long a kept-alive HTTP connection may wait for its next request.
        public var httpIdleTimeout: Duration = .seconds(10)
        /// Count and serve Prometheus metrics at this path (`--metrics`, `--metrics-path`); nil
        /// counts nothing.
        public var metricsPath: String?
        /// A plain GET of a route's path shows a console page for it, and `GET /` lists the routes
        /// (`--devconsole`).
        public var devConsole = false
        /// The Redis that makes broadcast rooms and fanout routes span every wsgate connected to it
        /// (`--redis`); nil: rooms are this process's own. See `RoomBus`.
        public var redis: RedisEndpoint?
        /// What every channel name starts with (`--redis-prefix`), so deployments can share a Redis.
        public var redisPrefix = "wsgate:"
        /// Peers whose `X-Forwarded-For` / `X-Real-IP` name the client (`--trust-proxy`); empty: none.
        public var trustedProxies = TrustedProxies()
        /// SERVER_SOFTWARE in programs' environment.
        public var serverSoftware = "wsgate/0.1.0"
        public var log = Log()
        /// Where SIGHUP gets the configuration to change to (the wsgate command reads its `--config`
        /// file again); nil: SIGHUP reloads only the TLS files. See `GatewayServer.reload`.
        public var reloadConfiguration: (() throws -> Configuration)?

        public init() {}
    }
}
