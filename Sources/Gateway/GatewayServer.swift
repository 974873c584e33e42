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
    public let configuration: Configuration
    let loop: EventLoop
    let router: Router
    let handshake: ServerHandshake
    /// One read buffer for every session: reads are processed before the next one starts, and the
    /// protocol core keeps only partial headers, so idle sessions hold no read memory.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// zlib streams every session without context takeover compresses and inflates with: one set
    /// per loop, instead of up to 300 KiB per session.
    let deflateStreams = PerMessageDeflate.SharedStreams()
    let originPolicy: OriginPolicy
    /// The route-wide part of each route that has one (broadcast rooms, long-lived programs), by
    /// `serviceKey`.
    private var services: [String: any RouteService] = [:]
    /// Per-session programs started and not yet exited (what `maxPrograms` bounds).
    private(set) var runningPrograms = 0
    /// Programs whose process group is not yet cleaned up, by pid. The server owns them until then
    /// (their sessions may be long gone), and shutdown waits for them.
    private var programs: [Int32: ProgramProcess] = [:]
    private var lastUniqueID: Int64 = 0
    private var workers: SpawnWorkers?
    private var workersUnavailable = false
    private var resolvedExecutables: [String: String] = [:]
    private var listeners: [Listener] = []
    private var sessions: [Int: Session] = [:]
    private var nextSessionID = 1
    private var pendingFlush: [Session] = []
    private var shuttingDown = false
    private var shutdownTimer: TimerID?
    /// The TLS context new connections use; a reload replaces it (see GatewayServer+TLS.swift).
    var tlsContext: TLSContext?
    /// Scratch for every TLS session of this loop; nil without TLS.
    let tlsBuffers: TLSTransport.Buffers?

    /// Connections at once: the configured bound, or what the descriptor limit allows.
    public let maxConnections: Int
    /// The soft limit on open descriptors when the gateway started.
    let openFilesLimit: Int

    /// The addresses actually listened on (with the real port when the configuration asked for 0).
    public private(set) var boundAddresses: [SocketAddress] = []

    /// Binds every address and starts every route's long-lived program now, so that a port in use
    /// or a program that cannot start fails here (as a `StartupError`), and `boundAddresses` is
    /// known before `run`.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        try EventLoop.ignoreSIGPIPE()
        self.loop = try EventLoop()
        self.router = Router(configuration.routes)
        self.handshake = ServerHandshake(subprotocols: configuration.subprotocols,
                                         extraHeaders: configuration.headers + configuration.upgradeHeaders)
        self.originPolicy = OriginPolicy(allowed: configuration.allowedOrigins, sameOrigin: configuration.sameOrigin,
                                         tls: configuration.tls != nil)
        // 256 KiB: a 64 KiB message and its header take one read, not two (sessions read 3.4 times
        // as often as a C echo with the 64 KiB this was); one buffer for the whole loop.
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        self.tlsBuffers = configuration.tls == nil ? nil : TLSTransport.Buffers()
        self.openFilesLimit = (try? ResourceLimits.openFiles().soft) ?? 1024
        self.maxConnections = configuration.maxConnections
            ?? Self.connectionsAllowed(byOpenFiles: self.openFilesLimit, routes: configuration.routes)
        do {
            if let tls = configuration.tls {
                self.tlsContext = try Self.makeTLSContext(tls)
            }
            // A name listens on every address it resolves to; an address named twice (`localhost`
            // and `127.0.0.1`) is listened on once, where a second bind would fail with EADDRINUSE.
            var addresses: [SocketAddress] = []
            for host in configuration.addresses {
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
                    socket = try Socket.listen(on: address)
                    bound = try socket.localAddress
                } catch {
                    throw StartupError(description: "cannot listen on \(address): \(error)")
                }
                let listener = Listener(socket: socket, address: bound, server: self)
                self.listeners.append(listener)
                listener.registration = try self.loop.register(socket.fd, interest: .readable, handler: listener)
                self.boundAddresses.append(bound)
            }
            if configuration.containsOrphans {
                // Before any program starts, so a daemon it spawns at once is reparented to us.
                try Orphans.becomeSubreaper()
            }
            for route in configuration.routes {
                guard let key = Self.serviceKey(for: route), self.services[key] == nil,
                      let service = self.makeService(for: route) else { continue }
                self.services[key] = service
                do {
                    try service.start()
                } catch {
                    throw StartupError(description: "cannot start the program of \(route.pattern) (\(route.handler.name)): \(error)")
                }
            }
        } catch {
            // Every stored property is set by now, so throwing runs `deinit`, which frees `readBuffer`:
            // freeing it here too was a double free (a port in use aborted the process).
            self.closeListeners()
            for program in Array(self.programs.values) { program.kill() }
            self.loop.close()
            throw error
        }
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

    /// Serves until SIGINT, SIGTERM or `shutdownHandle.stop()`, then shuts down gracefully and returns.
    public func run() throws {
        try self.loop.onSignal(.interrupt) { [unowned self] in self.beginShutdown(signal: "SIGINT") }
        try self.loop.onSignal(.terminate) { [unowned self] in self.beginShutdown(signal: "SIGTERM") }
        if self.configuration.containsOrphans {
            try self.loop.onSignal(.child) { [unowned self] in self.reapOrphans() }
        }
        if self.configuration.tls != nil {
            try self.loop.onSignal(.hangup) { [unowned self] in self.reloadTLS() }
        }
        self.configuration.log.info("server.limits", [("open_files", self.openFilesLimit),
                                                      ("max_connections", self.maxConnections)])
        self.logStartup()
        try self.loop.run()
        if !self.shuttingDown {
            // Stopped from another thread: finish the same way a signal would.
            self.beginShutdown(signal: nil)
            try self.loop.run()
        }
        for session in Array(self.sessions.values) { session.teardown(reason: "shutdown") }
        for program in Array(self.programs.values) { program.kill() }
        if self.configuration.containsOrphans { self.killOrphans(where: { _ in true }) }
        self.closeListeners()
        self.loop.close()
        self.configuration.log.info("server.stopped")
    }

    func beginShutdown(signal: String?) {
        guard !self.shuttingDown else { return }
        self.shuttingDown = true
        self.configuration.log.info("server.shutdown", [("signal", signal ?? "-"), ("sessions", self.sessions.count)])
        self.closeListeners()
        for service in self.services.values { service.beginShutdown() }
        for session in Array(self.sessions.values) {
            if session.isOpen {
                session.close(code: .goingAway, reason: "going away")
            } else if case .handshaking = session.phase {
                session.teardown(reason: "shutdown")
            } else if session.isAwaitingHandler {
                session.teardown(reason: "shutdown")
            }
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

    private func closeListeners() {
        for listener in self.listeners { listener.close() }
        self.listeners = []
    }

    // MARK: Sessions

    func accepted(_ socket: Socket, from remote: SocketAddress) {
        try? socket.setNoDelay(true)
        let id = self.nextSessionID
        self.nextSessionID += 1
        let overloaded = self.sessions.count >= self.maxConnections
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
    private func makeService(for route: Route) -> (any RouteService)? {
        switch route.handler {
        case .broadcast: return BroadcastRooms()
        case .program(let command, let mode) where !mode.isPerSession:
            return LongLivedProgramService(pattern: route.pattern, command: command, mode: mode, server: self)
        default: return nil
        }
    }

    /// The handler for a session that passed the handshake, or the HTTP refusal to send instead.
    func prepareHandler(_ route: Route, for session: Session, request: HTTPHead) -> HandlerPreparation {
        if let key = Self.serviceKey(for: route), let service = self.services[key] {
            return service.prepareHandler(for: session, request: request)
        }
        switch route.handler {
        case .echo: return .ready(EchoHandler())
        case .broadcast: return .refused(HTTPResponse(status: 500, body: "broadcast route without rooms"))
        case .custom(_, let make): return .ready(make(session))
        case .program(let command, let mode):
            let (scriptName, pathInfo) = route.scriptNameAndPathInfo(for: session.path)
            return self.startProgram(command, mode: mode, scriptName: scriptName, pathInfo: pathInfo, for: session)
        case .directory(let directory, let mode):
            switch ScriptDirectory.lookup(session.path, in: directory) {
            case .notFound(let why):
                return .refused(HTTPResponse(status: 404, body: why))
            case .found(let file, let scriptName, let pathInfo):
                return self.startProgram(ProgramCommand(executable: file), mode: mode, scriptName: scriptName,
                                         pathInfo: pathInfo, for: session)
            }
        }
    }

    private func startProgram(_ command: ProgramCommand, mode: ProgramMode, scriptName: String, pathInfo: String,
                              for session: Session) -> HandlerPreparation {
        if let limit = self.configuration.maxPrograms, self.runningPrograms >= limit {
            return .refused(HTTPResponse(status: 503, body: "too many programs running (limit \(limit))"))
        }
        let environment = self.cgiEnvironment(for: session, scriptName: scriptName, pathInfo: pathInfo)
        if let workers = self.spawnWorkers() {
            // Counted now, so --maxforks holds while spawns are in flight.
            self.runningPrograms += 1
            let request = SpawnWorkers.Request(
                executable: self.resolvedPath(of: command.executable), arguments: command.arguments,
                environment: environment.variables, terminal: mode == .pty)
            workers.spawn(request) { [unowned self] result in
                self.programSpawned(result, command: command, mode: mode, environment: environment.variables,
                                    for: session)
            }
            return .pending
        }
        let program: ProgramProcess
        do {
            program = try self.spawnProgram(command, environment: environment.variables, terminal: mode == .pty,
                                             countsTowardLimit: true, log: session.log)
        } catch {
            session.log.error("process.spawn_failed", [("command", command), ("error", error)])
            return .refused(HTTPResponse(status: 502, body: "cannot start program \(command.executable): \(error.errno)"))
        }
        return .ready(ProcessHandler(program: program, mode: mode, session: session, server: self))
    }

    /// Per-session programs are started on these threads (see `SpawnWorkers`); made on first use.
    /// nil when threads cannot be made: spawning then happens on the loop thread.
    private func spawnWorkers() -> SpawnWorkers? {
        if let workers = self.workers { return workers }
        guard !self.workersUnavailable else { return nil }
        do {
            self.workers = try SpawnWorkers(threads: 2, loop: self.loop)
        } catch {
            self.configuration.log.error("process.spawn_threads_failed", [("error", error)])
            self.workersUnavailable = true
        }
        return self.workers
    }

    /// On the loop thread, once a worker has started (or failed to start) a session's program.
    private func programSpawned(_ result: Result<ChildProcess, SystemError>, command: ProgramCommand,
                                mode: ProgramMode, environment: [String: String], for session: Session) {
        let child: ChildProcess
        switch result {
        case .failure(let error):
            self.runningPrograms -= 1
            session.log.error("process.spawn_failed", [("command", command), ("error", error)])
            session.handlerPrepared(.refused(
                HTTPResponse(status: 502, body: "cannot start program \(command.executable): \(error.errno)")))
            return
        case .success(let started):
            child = started
        }
        let program: ProgramProcess
        do {
            program = try ProgramProcess(adopting: child, command: command, environment: environment,
                                         countsTowardLimit: true, server: self, log: session.log)
        } catch {
            self.runningPrograms -= 1  // killed and reaped by the failed init, never counted as exited
            session.log.error("process.spawn_failed", [("command", command), ("error", error)])
            session.handlerPrepared(.refused(HTTPResponse(status: 502, body: "cannot watch program: \(error.errno)")))
            return
        }
        self.programs[program.pid] = program
        guard session.isAwaitingHandler else {
            // The client left (or the gateway is stopping) while the program started: stop it again.
            program.terminate()
            return
        }
        session.handlerPrepared(.ready(ProcessHandler(program: program, mode: mode, session: session, server: self)))
    }

    /// Starts a program the server then owns until its process group is gone.
    func spawnProgram(_ command: ProgramCommand, environment: [String: String], terminal: Bool, countsTowardLimit: Bool,
                      log: Log) throws(SystemError) -> ProgramProcess {
        let program = try ProgramProcess(
            spawning: self.resolvedPath(of: command.executable), command: command, environment: environment,
            terminal: terminal, countsTowardLimit: countsTowardLimit, server: self, log: log)
        if countsTowardLimit { self.runningPrograms += 1 }
        self.programs[program.pid] = program
        return program
    }

    /// The variables of wsgate's own environment that `--passenv` names.
    func passedEnvironment() -> [String: String] {
        var inherited: [String: String] = [:]
        for name in self.configuration.passEnvironment {
            if let value = ProcessEnvironment.value(of: name) { inherited[name] = value }
        }
        return inherited
    }

    /// The CGI environment of a program serving `session` (websocketd's variables).
    func cgiEnvironment(for session: Session, scriptName: String, pathInfo: String) -> CGIEnvironment {
        CGIEnvironment(
            .init(head: session.request ?? HTTPHead(startLine: .request(method: "GET", target: session.path, version: "HTTP/1.1"), headers: []),
                  remoteHost: session.remoteAddress.host, remotePort: session.remoteAddress.port,
                  localPort: self.configuration.port, scriptName: scriptName, pathInfo: pathInfo,
                  uniqueID: self.nextUniqueID(), serverSoftware: self.configuration.serverSoftware,
                  tls: session.tlsPeer),
            passing: self.passedEnvironment())
    }

    /// The path to run for a program name: a bare name is looked up in PATH once, not at every
    /// spawn (one access(2) per PATH entry). A name that no longer resolves is tried as given, so
    /// the spawn reports the failure.
    private func resolvedPath(of executable: String) -> String {
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
        self.lastUniqueID = max(WallClock.nanosecondsSinceEpoch(), self.lastUniqueID + 1)
        return String(self.lastUniqueID)
    }

    func childDidExit() {
        self.runningPrograms -= 1
    }

    func programDidRelease(_ program: ProgramProcess) {
        self.programs[program.pid] = nil
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
        Orphans.reapExited(sparing: { self.programs[$0] != nil || self.workers?.mayOwn($0) == true })
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
        self.sessions[session.id] = nil
        self.stopIfDrained()
    }
}
