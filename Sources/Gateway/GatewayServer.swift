import Reactor
import TLS
import WebSocket

/// A WebSocket gateway: listeners, routes and sessions on one epoll loop, on the thread that calls `run()`.
///
///     var configuration = GatewayServer.Configuration()
///     configuration.routes = [Route("/echo", .echo), Route("/chat/*", .broadcast)]
///     let server = try GatewayServer(configuration: configuration)
///     let handle = server.shutdownHandle   // Sendable: shutdown() from any thread
///     try server.run()                     // returns after a graceful shutdown
///
/// SIGINT and SIGTERM start a graceful shutdown: stop accepting, close every session with 1001,
/// wait for the closes up to `shutdownTimeout`, then return.
public final class GatewayServer {
    /// The configuration in force: the one given, or the last one `reload` accepted.
    public internal(set) var configuration: Configuration
    let loop: EventLoop
    /// Routes new requests are matched against; a reload replaces it.
    var router: Router
    /// What a session runs with before its request is routed (a refusal's headers).
    var defaultSettings: RouteSettings {
        didSet { self.sharedDefaultSettings = SharedRouteSettings(self.defaultSettings) }
    }
    /// `defaultSettings`, for sessions to share until they are routed.
    private(set) var sharedDefaultSettings: SharedRouteSettings
    /// One read buffer for every session: reads are processed before the next one starts, and the
    /// protocol core keeps only partial headers, so idle sessions hold no read memory.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// zlib streams every session without context takeover compresses and inflates with: one set
    /// per loop, instead of up to 300 KiB per session.
    let deflateStreams = PerMessageDeflate.SharedStreams()
    /// What serves plain HTTP requests, asked in this order (see `HTTPResponder`): metrics (its
    /// path is its own), CGI scripts before static files, as websocketd does, so a script's source
    /// is never served as a file, then the dev console (routes' paths, and `/` when no file is
    /// there). Empty when none is configured: plain requests are then refused as they always were.
    private(set) var responders: [any HTTPResponder] = []
    /// The route-wide part of each route that has one (broadcast rooms, long-lived programs), by
    /// `serviceKey`.
    var services: [String: any RouteService] = [:]
    /// The counters `--metrics` serves; nil when metrics are off, and then nothing is counted.
    let metrics: MetricsRegistry?
    /// Per-session programs started and not yet exited (what `maxPrograms` bounds).
    private var localRunningPrograms = 0
    /// Per-session programs running: this process's (every loop's).
    var runningPrograms: Int { self.coordinator?.runningPrograms ?? self.localRunningPrograms }
    /// The same, by route pattern (what each route's own `maxPrograms` bounds).
    private var runningProgramsByRoute: [String: Int] = [:]
    /// Programs whose process group is not yet cleaned up, by pid. The server owns them until then
    /// (their sessions may be long gone), and shutdown waits for them.
    private(set) var programs: [Int32: ProgramProcess] = [:]
    private var lastUniqueID: Int64 = 0
    private var workers: SpawnWorkers?
    private var workersUnavailable = false
    private var resolvedExecutables: [String: String] = [:]
    private(set) var listeners: [Listener] = []
    private var sessions: [Int: Session] = [:]
    /// The echo keeps no state: one per loop serves all its sessions (an object each was 32 bytes of
    /// every idle session; one shared by every loop would bounce its reference count between cores).
    let echoHandler = EchoHandler()
    private var nextSessionID = 1
    private var pendingFlush: [Session] = []
    private var shuttingDown = false
    /// A graceful shutdown has begun: plain HTTP connections close after their current response.
    var isShuttingDown: Bool { self.shuttingDown }
    /// `--once`: which session is the one, and how it ended (GatewayServer+Once.swift).
    var once = OnceState()
    private var shutdownTimer: TimerID?
    /// Where each program's cgroup is made (`wsgate-PID` below the configured directory); nil
    /// when cgroups are not used. See GatewayServer+Containment.swift.
    var controlGroupRoot: ControlGroup?
    var controlGroupsMade = 0
    /// Groups of finished programs that still hold a process that is dying.
    var retiringGroups: [ControlGroup] = []
    var retiringTimer: TimerID?
    /// What contains programs, for the start-up line: the mechanism, and the cgroup or why none.
    var containmentNote: (mechanism: String, cgroup: String)?
    /// The TLS context new connections use; a reload replaces it (see GatewayServer+TLS.swift).
    var tlsContext: TLSContext?
    /// systemd's NOTIFY_SOCKET, when it named one.
    let notifier: ServiceNotifier?
    /// Scratch for every TLS session of this loop; nil without TLS.
    let tlsBuffers: TLSTransport.Buffers?
    /// The htpasswd and token files of the routes' auth policies (see GatewayServer+Auth.swift).
    var credentials = CredentialStore()
    /// Keys of user and password pairs that passed a crypt(3) check since the last reload.
    var passwordCache = Set<[UInt8]>()
    let passwordCacheSalt = (0..<16).map { _ in UInt8.random(in: 0...255) }
    var passwordWorkers: BlockingWorkers?
    /// Auth commands running: the orphan reaper must leave them to their watchers.
    var authCommandPids = Set<Int32>()
    /// The rooms that span instances through Redis (`--redis`); nil: rooms are local only.
    /// Its `counters` (published, received, dropped) are what metrics export.
    var roomBus: RoomBus?
    /// Which event loop this is (`--threads`): 0 for the first, which alone takes signals, logs
    /// process-wide events and owns long-lived programs.
    let loopIndex: Int
    /// What every loop of the process shares (limits, ids, inboxes); nil with one loop, and then
    /// nothing is shared or paid for.
    let coordinator: LoopCoordinator?
    /// The first loop's: the other loops, until `run` hands each to its thread.
    var otherLoops: [GatewayServer] = []
    /// The first loop's: what stops the other loops (their shutdown begins).
    var otherLoopStops: [StopHandle] = []
    /// Messages for other loops gathered in this iteration, by loop: posted once per batch.
    var outbox: [[LoopMessage]] = []
    var outboxScheduled = false

    /// Connections at once: the configured bound, or what the descriptor limit allows.
    public let maxConnections: Int
    /// The soft limit on open descriptors when the gateway started.
    let openFilesLimit: Int

    /// The addresses actually listened on (with the real port when the configuration asked for 0).
    public private(set) var boundAddresses: [SocketAddress] = []

    /// Binds every address and starts every route's long-lived program now, so that a port in use
    /// or a program that cannot start fails here (as a `StartupError`), and `boundAddresses` is
    /// known before `run`.
    public convenience init(configuration: Configuration) throws {
        let loops = configuration.once ? 1 : max(1, configuration.threads)
        var coordinator: LoopCoordinator?
        if loops > 1 {
            do {
                coordinator = try LoopCoordinator(loops: loops)
            } catch {
                throw StartupError(description: "--threads: \(error)")
            }
        }
        try self.init(configuration: configuration, loopIndex: 0, coordinator: coordinator, first: nil)
        if coordinator != nil { try self.makeOtherLoops(loops) }
    }

    /// One event loop: the first (`first` nil) binds and starts everything; another shares the
    /// first one's listeners (see GatewayServer+Threads.swift).
    init(configuration: Configuration, loopIndex: Int, coordinator: LoopCoordinator?, first: GatewayServer?) throws {
        self.configuration = configuration
        // Another loop's lines say which loop (the first loop's read as they always did).
        if loopIndex > 0 { self.configuration.log = configuration.log.with("loop", loopIndex) }
        self.loopIndex = loopIndex
        self.coordinator = coordinator
        try EventLoop.ignoreSIGPIPE()
        self.loop = try EventLoop()
        let served = configuration.routes.map { ServedRoute($0, defaults: configuration) }
        self.router = Router(served)
        self.defaultSettings = RouteSettings(configuration)
        self.sharedDefaultSettings = SharedRouteSettings(self.defaultSettings)
        // 256 KiB: a 64 KiB message and its header take one read, not two (sessions read 3.4 times
        // as often as a C echo with the 64 KiB this was); one buffer for the whole loop.
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        self.tlsBuffers = configuration.tls == nil ? nil : TLSTransport.Buffers()
        self.metrics = configuration.metricsPath == nil ? nil : MetricsRegistry(routes: configuration.routes)
        self.notifier = configuration.notifySocket.flatMap { ServiceNotifier(target: $0) }
        self.openFilesLimit = (try? ResourceLimits.openFiles().soft) ?? 1024
        self.maxConnections = configuration.maxConnections
            ?? Self.connectionsAllowed(byOpenFiles: self.openFilesLimit, routes: configuration.routes)
        do {
            if let tls = configuration.tls {
                self.tlsContext = try Self.makeTLSContext(tls)
            }
            do {
                self.credentials = try CredentialStore.load(for: self.authPolicies)
            } catch {
                throw StartupError(description: "--auth: \(error)")
            }
            if let first {
                try self.shareListeners(of: first)
            } else if let passed = configuration.passedSockets {
                try self.adoptPassedSockets(passed)
            }
            // A name listens on every address it resolves to; an address named twice (`localhost`
            // and `127.0.0.1`) is listened on once, where a second bind would fail with EADDRINUSE.
            var addresses: [SocketAddress] = []
            for host in configuration.passedSockets == nil && first == nil ? configuration.addresses : [] {
                do {
                    addresses += try SocketAddress.listening(on: host, port: configuration.port)
                } catch {
                    let named = Self.hostAndPort(host, configuration.port)
                    throw StartupError(description: "cannot listen on \(named): \(error)")
                }
            }
            var seen = Set<SocketAddress>()
            for address in addresses where seen.insert(address).inserted {
                let socket: Socket
                let bound: SocketAddress
                do {
                    socket = try Socket.listen(on: address, reusePort: coordinator != nil)
                    bound = try socket.localAddress
                } catch {
                    throw StartupError(description: "cannot listen on \(address): \(error)")
                }
                try self.addListener(socket, address: bound)
            }
            for path in configuration.passedSockets == nil && first == nil ? configuration.unixSockets : [] {
                let socket: Socket
                do {
                    socket = try Socket.listen(unixPath: path, mode: configuration.unixSocketMode)
                } catch {
                    throw StartupError(description: "cannot listen on unix:\(error)")
                }
                try self.addListener(socket, address: try SocketAddress(unixPath: path), removesFile: path)
            }
            if let first {
                try self.setUpLoopControlGroup(below: first)
            } else {
                try self.setUpControlGroups()
            }
            if let coordinator {
                _ = try coordinator.inboxes[loopIndex].attach(to: self.loop) { [unowned self] batch in
                    self.receive(batch)
                }
                self.outbox = Array(repeating: [], count: coordinator.loopCount)
                self.publishMetricsEverySecond()
            }
            if let path = configuration.metricsPath, let metrics = self.metrics {
                self.responders.append(MetricsEndpoint(path: path, registry: metrics, server: self))
            }
            if let directory = configuration.cgiDirectory {
                self.responders.append(CGIScripts(directory: directory, server: self))
            }
            if let directory = configuration.staticDirectory {
                self.responders.append(StaticFiles(directory: directory, log: configuration.log,
                                                   leavesMissingRoot: configuration.devConsole))
            }
            if configuration.devConsole {
                self.responders.append(DevConsole(server: self))
            }
            try self.startRoomBus(served)
            if configuration.containsOrphans && first == nil {
                // Before any program starts, so a daemon it spawns at once is reparented to us.
                try Orphans.becomeSubreaper()
            }
            for route in served {
                guard let key = Self.serviceKey(for: route.route), self.services[key] == nil,
                      let service = self.makeService(for: route) else { continue }
                self.services[key] = service
                do {
                    try service.start()
                } catch {
                    throw StartupError(description: "cannot start the program of \(route.pattern) (\(route.route.handler.name)): \(error)")
                }
            }
        } catch {
            // Every stored property is set by now, so throwing runs `deinit`, which frees `readBuffer`:
            // freeing it here too was a double free (a port in use aborted the process).
            self.abandon()
            throw error
        }
    }

    /// Undoes a start that failed: listeners, the room bus, programs, cgroups, the loop.
    func abandon() {
        self.closeListeners()
        self.roomBus?.stop()
        for program in Array(self.programs.values) { program.kill() }
        self.removeControlGroups()
        self.loop.close()
    }

    deinit {
        self.readBuffer.deallocate()
    }

    /// Why the gateway could not start: an address it cannot listen on, a program it cannot start.
    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    private static func hostAndPort(_ host: String, _ port: UInt16) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// How many connections fit in `openFiles` descriptors: each takes its socket, and a
    /// per-connection program four more (three pipes and a pidfd; a pty's one terminal counts as
    /// two); a reserve is kept for listeners, long-lived programs, the loop and logging. At most
    /// 100,000, at least 1.
    static func connectionsAllowed(byOpenFiles openFiles: Int, routes: [Route]) -> Int {
        let spawnsPerConnection = routes.contains { route in
            switch route.handler {
            case .program(_, let mode), .directory(_, let mode): mode.isPerSession
            default: false
            }
        }
        let longLived = routes.filter { Self.serviceKey(for: $0) != nil }.count
        let reserve = 32 + 4 * longLived
        let perConnection = spawnsPerConnection ? 5 : 1
        return min(100_000, max(1, (openFiles - reserve) / perConnection))
    }

    /// Stops the gateway from any thread: the loop wakes, then shuts down gracefully.
    public var shutdownHandle: StopHandle { self.loop.stopHandle }

    /// Sessions at this moment, handshakes included.
    public var connectionCount: Int { self.sessions.count }

    /// Every connection at this moment, for a metrics scrape.
    var liveSessions: Dictionary<Int, Session>.Values { self.sessions.values }

    /// Serves until SIGINT, SIGTERM or `shutdownHandle.stop()`, then shuts down gracefully and returns.
    public func run() throws {
        let first = self.loopIndex == 0
        if first {
            try self.loop.onSignal(.interrupt) { [unowned self] in self.beginShutdown(signal: "SIGINT") }
            try self.loop.onSignal(.terminate) { [unowned self] in self.beginShutdown(signal: "SIGTERM") }
            if self.configuration.containsOrphans {
                try self.loop.onSignal(.child) { [unowned self] in self.reapOrphans() }
            }
            try self.loop.onSignal(.hangup) { [unowned self] in self.reloadOnHangup() }
            var limits: [(String, any CustomStringConvertible)] = [("open_files", self.openFilesLimit),
                                                                  ("max_connections", self.maxConnections)]
            if let coordinator = self.coordinator { limits.append(("threads", coordinator.loopCount)) }
            self.configuration.log.info("server.limits", limits)
            self.logStartup()
            // After the signals are blocked here: the loop threads inherit the mask.
            try self.startOtherLoops()
            self.notifier?.notify("READY=1")
        }
        try self.loop.run()
        if !self.shuttingDown {
            // Stopped from another thread: finish the same way a signal would.
            self.beginShutdown(signal: nil)
            try self.loop.run()
        }
        for session in Array(self.sessions.values) { session.teardown(reason: "shutdown") }
        for program in Array(self.programs.values) { program.kill() }
        if first {
            self.waitForOtherLoops()
            if self.configuration.containsOrphans { self.killOrphans(where: { _ in true }) }
        }
        self.removeControlGroups()
        self.closeListeners()
        self.roomBus?.stop()
        self.loop.close()
        if first { self.configuration.log.info("server.stopped") }
    }

    func beginShutdown(signal: String?) {
        guard !self.shuttingDown else { return }
        self.shuttingDown = true
        if self.loopIndex == 0 {
            let sessions = self.coordinator?.connections.load(ordering: .relaxed) ?? self.sessions.count
            self.configuration.log.info("server.shutdown", [("signal", signal ?? "-"), ("sessions", sessions)])
            self.notifier?.notify("STOPPING=1")
            for stop in self.otherLoopStops { stop.stop() }
        }
        self.closeListeners()
        for service in self.services.values { service.beginShutdown() }
        for session in Array(self.sessions.values) {
            if session.isOpen {
                session.close(code: .goingAway, reason: "going away")
            } else if case .handshaking = session.phase {
                session.teardown(reason: "shutdown")
            } else if session.isAwaitingHandler {
                session.teardown(reason: "shutdown")
            } else if case .readingBody = session.phase {
                session.teardown(reason: "shutdown")
            }
            // A plain response in progress is finished, then its connection closes.
        }
        self.shutdownTimer = self.loop.schedule(after: self.configuration.shutdownTimeout) { [unowned self] in
            self.configuration.log.info("server.shutdown_timeout", [("sessions", self.sessions.count)])
            self.loop.stop()
        }
        self.stopIfDrained()
    }

    private func stopIfDrained() {
        guard self.shuttingDown, self.sessions.isEmpty, self.programs.isEmpty else { return }
        if let timer = self.shutdownTimer { self.loop.cancel(timer) }
        self.loop.stop()
    }

    /// Accepts on `socket` from now on; `removesFile`: a Unix socket file to remove when it closes.
    func addListener(_ socket: Socket, address: SocketAddress, removesFile: String? = nil, passedAs name: String? = nil)
        throws(SystemError)
    {
        let listener = Listener(socket: socket, address: address, server: self)
        listener.removesFile = removesFile
        listener.passedName = name
        self.listeners.append(listener)
        listener.registration = try self.loop.register(socket.fd, interest: .readable, handler: listener)
        self.boundAddresses.append(address)
    }

    func closeListeners() {
        for listener in self.listeners { listener.close() }
        self.listeners = []
    }

    // MARK: Sessions

    func accepted(_ socket: Socket, from remote: SocketAddress) {
        if !remote.isUnix { try? socket.setNoDelay(true) }
        let id: Int
        if let coordinator = self.coordinator {
            id = coordinator.nextSessionID()
        } else {
            id = self.nextSessionID
            self.nextSessionID += 1
        }
        let parser = HTTPHeadParser(kind: .request, maxSize: self.configuration.maxRequestHeadSize)
        let transport: any Transport
        if let context = self.tlsContext, let buffers = self.tlsBuffers {
            do {
                transport = TLSTransport(socket: socket, connection: try TLSConnection(context: context), buffers: buffers)
            } catch {
                self.configuration.log.error("accept.tls_error", [("error", error)])
                socket.close()
                return
            }
        } else {
            transport = PlainTransport(socket)
        }
        let session = Session(id: id, transport: transport, remoteAddress: remote, server: self,
                              phase: .handshaking(parser))
        do {
            session.registration = try self.loop.register(socket.fd, interest: .readable, handler: session)
        } catch {
            self.configuration.log.error("accept.register_error", [("error", error)])
            socket.close()
            return
        }
        let overloaded: Bool
        if let coordinator = self.coordinator {
            overloaded = coordinator.connections.wrappingAdd(1, ordering: .relaxed).oldValue >= self.maxConnections
        } else {
            overloaded = self.sessions.count >= self.maxConnections
        }
        self.sessions[id] = session
        if overloaded {
            session.reject(HTTPResponse(status: 503, body: "too many connections (limit \(self.maxConnections))"),
                           logAs: "server.overloaded")
            session.flush()
        } else {
            session.armHandshakeTimer()
        }
    }

    /// Which service serves a route: a broadcast route's rooms are its own; routes that name the same
    /// long-lived program (websocketd's COMMAND form gives two, "/" and "/*") share one process.
    static func serviceKey(for route: Route) -> String? {
        switch route.handler {
        case .broadcast: "broadcast \(route.pattern)"
        case .program(let command, let mode) where !mode.isPerSession: "\(mode) \(command)"
        default: nil
        }
    }

    /// The route-wide service a route needs, if any.
    func makeService(for served: ServedRoute) -> (any RouteService)? {
        switch served.route.handler {
        case .broadcast:
            return BroadcastRooms(bus: self.roomBus, relay: self.coordinator == nil ? nil : self.roomRelay(for: served.route))
        case .program(let command, let mode) where !mode.isPerSession:
            if self.loopIndex > 0 {
                return RemoteProgramService(key: Self.serviceKey(for: served.route) ?? served.pattern,
                                            pattern: served.pattern, mode: mode,
                                            maxInFlight: served.settings.maxQueuedBytes, server: self)
            }
            return LongLivedProgramService(pattern: served.pattern, command: command, mode: mode,
                                           settings: served.settings, server: self)
        default: return nil
        }
    }

    /// The handler for a session that passed the handshake, or the HTTP refusal to send instead.
    func prepareHandler(_ served: ServedRoute, for session: Session, request: HTTPHead) -> HandlerPreparation {
        let route = served.route
        if let key = Self.serviceKey(for: route), let service = self.services[key] {
            return service.prepareHandler(for: session, request: request)
        }
        switch route.handler {
        case .echo: return .ready(self.echoHandler)
        case .broadcast: return .refused(HTTPResponse(status: 500, body: "broadcast route without rooms"))
        case .custom(_, let make): return .ready(make(session))
        case .program(let command, let mode):
            let (scriptName, pathInfo) = route.scriptNameAndPathInfo(for: session.path)
            return self.startProgram(command, mode: mode, scriptName: scriptName, pathInfo: pathInfo,
                                     route: route.pattern, for: session)
        case .directory(let directory, let mode):
            switch ScriptDirectory.lookup(session.path, in: directory) {
            case .notFound(let why):
                return .refused(HTTPResponse(status: 404, body: why))
            case .found(let file, let scriptName, let pathInfo):
                return self.startProgram(ProgramCommand(executable: file), mode: mode, scriptName: scriptName,
                                         pathInfo: pathInfo, route: route.pattern, for: session)
            }
        }
    }

    private func startProgram(_ command: ProgramCommand, mode: ProgramMode, scriptName: String, pathInfo: String,
                              route: String, for session: Session) -> HandlerPreparation {
        if let refusal = self.programLimitRefusal(route: route, routeLimit: session.settings.maxPrograms) {
            return .refused(refusal)
        }
        let environment = self.cgiEnvironment(for: session, scriptName: scriptName, pathInfo: pathInfo)
        // `launchProgram` answers at once when it spawns on the loop thread, later from a worker.
        var answer = HandlerPreparation.pending
        var answeredLater = false
        self.launchProgram(command, environment: environment.variables, terminal: mode == .pty, countedRoute: route,
                           reserved: self.coordinator != nil, settings: session.settings, log: session.log) { [unowned self] outcome in
            let preparation: HandlerPreparation
            switch outcome {
            case .failure(let error):
                preparation = .refused(
                    HTTPResponse(status: 502, body: "cannot start program \(command.executable): \(error.errno)"))
            case .success(let program):
                guard !answeredLater || session.isAwaitingHandler else {
                    // The client left (or the gateway is stopping) while the program started: stop it again.
                    program.terminate()
                    return
                }
                preparation = .ready(ProcessHandler(program: program, mode: mode, session: session, server: self))
            }
            if answeredLater { session.handlerPrepared(preparation) } else { answer = preparation }
        }
        answeredLater = true
        return answer
    }

    /// Starts a per-request program (one that counts toward `maxPrograms` and toward
    /// `countedRoute`'s own bound), on a spawn worker when there are any, and hands it, or the
    /// spawn's error (logged here), to `done` on the loop thread: before this returns when the
    /// spawn happened on the loop thread itself. The server owns the program from then on, until
    /// its process group is gone.
    /// `reserved`: the program is counted already (`programLimitRefusal` with several loops).
    func launchProgram(_ command: ProgramCommand, environment: [String: String], terminal: Bool, countedRoute: String,
                       reserved: Bool = false, settings: RouteSettings, log: Log,
                       _ done: @escaping (Result<ProgramProcess, SystemError>) -> Void) {
        let finish = { (outcome: Result<ProgramProcess, SystemError>) in
            if case .failure(let error) = outcome {
                log.error("process.spawn_failed", [("command", command), ("error", error)])
            }
            done(outcome)
        }
        guard let workers = self.spawnWorkers() else {
            finish(Result { () throws(SystemError) in
                try self.spawnProgram(command, environment: environment, terminal: terminal, countedRoute: countedRoute,
                                      reserved: reserved, settings: settings, log: log)
            })
            return
        }
        // Counted now, so the limits hold while spawns are in flight.
        if !reserved { self.countProgram(for: countedRoute) }
        let request = SpawnWorkers.Request(executable: self.resolvedPath(of: command.executable),
                                           arguments: command.arguments, environment: environment, terminal: terminal,
                                           controlGroup: self.nextControlGroup())
        workers.spawn(request) { [unowned self] result in
            if case .success = result { self.metrics?.processSpawns += 1 } else { self.metrics?.processSpawnFailures += 1 }
            finish(result.flatMap { child in
                Result { () throws(SystemError) in
                    let program = try ProgramProcess(adopting: child, command: command, environment: environment,
                                                     countedRoute: countedRoute, settings: settings, server: self,
                                                     log: log)
                    self.programs[program.pid] = program
                    self.coordinator?.own(program.pid)
                    return program
                }
            }.mapError { error in
                // A failed adoption killed and reaped the child, never counted as exited.
                self.childDidExit(countedFor: countedRoute)
                return error
            })
        }
    }

    /// Per-session programs are started on these threads (see `SpawnWorkers`); made on first use.
    /// nil when threads cannot be made: spawning then happens on the loop thread.
    func spawnWorkers() -> SpawnWorkers? {
        if let workers = self.workers { return workers }
        guard !self.workersUnavailable else { return nil }
        do {
            let workers = try SpawnWorkers(threads: 2, loop: self.loop)
            self.workers = workers
            self.coordinator?.addSpawnProbe(workers.ownershipProbe())
        } catch {
            self.configuration.log.error("process.spawn_threads_failed", [("error", error)])
            self.workersUnavailable = true
        }
        return self.workers
    }

    /// Starts a program the server then owns until its process group is gone.
    func spawnProgram(_ command: ProgramCommand, environment: [String: String], terminal: Bool, countedRoute: String?,
                      reserved: Bool = false, settings: RouteSettings, log: Log) throws(SystemError) -> ProgramProcess {
        let program: ProgramProcess
        do {
            program = try ProgramProcess(
                spawning: self.resolvedPath(of: command.executable), command: command, environment: environment,
                terminal: terminal, controlGroup: self.nextControlGroup(), countedRoute: countedRoute, settings: settings,
                server: self, log: log)
        } catch {
            self.metrics?.processSpawnFailures += 1
            if reserved, let route = countedRoute { self.childDidExit(countedFor: route) }
            throw error
        }
        self.metrics?.processSpawns += 1
        if !reserved, let route = countedRoute { self.countProgram(for: route) }
        self.programs[program.pid] = program
        self.coordinator?.own(program.pid)
        return program
    }

    /// The operator's variables for a route's programs: those of wsgate's own environment that
    /// `--passenv` names, then the route's `env`.
    func passedEnvironment(_ settings: RouteSettings) -> [String: String] {
        var inherited: [String: String] = [:]
        for name in settings.passEnvironment {
            if let value = ProcessEnvironment.value(of: name) { inherited[name] = value }
        }
        inherited.merge(settings.environment) { _, extra in extra }
        return inherited
    }

    /// The CGI environment of a program serving `session` (websocketd's variables).
    func cgiEnvironment(for session: Session, scriptName: String, pathInfo: String) -> CGIEnvironment {
        CGIEnvironment(
            .init(head: session.request ?? HTTPHead(startLine: .request(method: "GET", target: session.path, version: "HTTP/1.1"), headers: []),
                  // websocketd's values for a client on a Unix socket.
                  remoteHost: session.clientAddress ?? (session.remoteAddress.isUnix ? "unix-socket" : session.remoteAddress.host),
                  remotePort: session.remoteAddress.isUnix || session.clientAddress != nil ? nil : session.remoteAddress.port,
                  localPort: self.configuration.port, scriptName: scriptName, pathInfo: pathInfo,
                  uniqueID: self.nextUniqueID(), serverSoftware: self.configuration.serverSoftware,
                  tls: session.tlsPeer, authentication: session.authentication),
            passing: self.passedEnvironment(session.settings))
    }

    /// The path to run for a program name: a bare name is looked up in PATH once, not at every
    /// spawn (one access(2) per PATH entry). A name that no longer resolves is tried as given, so
    /// the spawn reports the failure.
    func resolvedPath(of executable: String) -> String {
        if executable.contains("/") { return executable }
        if let path = self.resolvedExecutables[executable] { return path }
        guard let path = ChildProcess.findExecutable(executable) else { return executable }
        self.resolvedExecutables[executable] = path
        return path
    }

    /// What `prepareHandler` came to.
    enum HandlerPreparation {
        case ready(any SessionHandler)
        case refused(HTTPResponse)
        /// Being prepared off the loop thread; the session hears through `handlerPrepared`.
        case pending
    }

    /// UNIQUE_ID: wall-clock nanoseconds, as websocketd, made strictly increasing.
    private func nextUniqueID() -> String {
        if let coordinator = self.coordinator { return String(coordinator.nextUniqueID()) }
        self.lastUniqueID = max(WallClock.nanosecondsSinceEpoch(), self.lastUniqueID + 1)
        return String(self.lastUniqueID)
    }

    /// The 503 for a program `maxPrograms` (or the route's `routeLimit`) has no room for, or nil.
    /// With several loops the room is also taken (counted) here, in one step for the process.
    func programLimitRefusal(route: String, routeLimit: Int?) -> HTTPResponse? {
        let limit = self.configuration.maxPrograms
        let (total, onRoute): (Int, Int)
        if let coordinator = self.coordinator {
            if coordinator.reserveProgram(route: route, limit: limit, routeLimit: routeLimit) { return nil }
            (total, onRoute) = coordinator.runningPrograms(route: route)
        } else {
            (total, onRoute) = (self.localRunningPrograms, self.runningProgramsByRoute[route, default: 0])
        }
        if let limit, total >= limit {
            return HTTPResponse(status: 503, body: "too many programs running (limit \(limit))")
        }
        if let routeLimit, onRoute >= routeLimit {
            return HTTPResponse(status: 503, body: "too many programs running on \(route) (limit \(routeLimit))")
        }
        return nil
    }

    private func countProgram(for route: String) {
        if let coordinator = self.coordinator {
            coordinator.countProgram(route: route)
            return
        }
        self.localRunningPrograms += 1
        self.runningProgramsByRoute[route, default: 0] += 1
    }

    func childDidExit(countedFor route: String) {
        if let coordinator = self.coordinator {
            coordinator.programExited(route: route)
            return
        }
        self.localRunningPrograms -= 1
        self.runningProgramsByRoute[route, default: 1] -= 1
        if self.runningProgramsByRoute[route] == 0 { self.runningProgramsByRoute[route] = nil }
    }

    func programDidRelease(_ program: ProgramProcess) {
        self.programs[program.pid] = nil
        self.coordinator?.disown(program.pid)
        if let group = program.controlGroup { self.retire(group) }
        if self.configuration.containsOrphans, let uniqueID = program.uniqueID {
            // A daemon the program started left its process group; it still carries the session's id.
            let entry = "UNIQUE_ID=\(uniqueID)"
            self.killOrphans(where: { Orphans.environment(of: $0, contains: entry) })
        }
        self.stopIfDrained()
    }

    /// Kills (with their process groups) the children that are not the gateway's own programs
    /// (orphans reparented to it) and that `matches` picks.
    private func killOrphans(where matches: (Int32) -> Bool) {
        for pid in Orphans.children() where self.programs[pid] == nil && matches(pid) {
            self.configuration.log.info("process.orphan_killed", [("pid", pid)])
            sendSignal(.kill, to: pid, group: true)
            sendSignal(.kill, to: pid)
        }
        self.reapOrphans()
    }

    /// Collects orphans that exited, leaving the gateway's own programs to their pidfd watchers.
    func reapOrphans() {
        // A child a spawn worker started is ours before the loop has adopted it into `programs`.
        Orphans.reapExited(sparing: {
            self.programs[$0] != nil || self.authCommandPids.contains($0) || self.workers?.mayOwn($0) == true
                || self.coordinator?.owns($0) == true
        })
    }

    /// Flushes `session` after the current batch of events, once however often it is asked.
    func scheduleFlush(_ session: Session) {
        if self.pendingFlush.isEmpty {
            self.loop.runSoon { [unowned self] in self.flushPending() }
        }
        self.pendingFlush.append(session)
    }

    private func flushPending() {
        // A flush may queue more (a handler reacting); those go in the next round.
        let sessions = self.pendingFlush
        self.pendingFlush = []
        for session in sessions {
            if case .closed = session.phase { continue }
            session.flush()
        }
    }

    func sessionDidEnd(_ session: Session) {
        if self.sessions.removeValue(forKey: session.id) != nil {
            self.coordinator?.connections.wrappingSubtract(1, ordering: .relaxed)
        }
        self.stopIfDrained()
    }
}
