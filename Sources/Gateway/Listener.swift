import Reactor

/// Accepts connections on one listening socket.
///
/// When the process runs out of descriptors (EMFILE, ENFILE) the pending connection stays in the
/// backlog and the socket stays readable, so accepting again at once would spin at 100% CPU. The
/// listener instead stops watching for 100 ms and tries again; the log says so once per episode
/// (`accept.paused`), and once when a connection is accepted again (`accept.resumed`).
final class Listener: EventHandler {
    let socket: Socket
    let address: SocketAddress
    unowned let server: GatewayServer
    var registration: Registration?
    /// The socket file of a Unix listener this process bound: removed when it closes.
    var removesFile: String?
    /// Passed in by a service manager (socket activation): the name it gave, or "" for none.
    var passedName: String?
    private var backingOff = false
    /// Out of descriptors since the last successful accept: the pause is logged once per episode.
    private var starved = false

    init(socket: Socket, address: SocketAddress, server: GatewayServer) {
        self.socket = socket
        self.address = address
        self.server = server
    }

    func handle(_ readiness: Readiness) {
        // Bounded, so a connection storm cannot starve established sessions.
        for _ in 0..<64 {
            do {
                guard case .processed(let (client, remote)) = try self.socket.accept() else { return }
                if self.starved {
                    self.starved = false
                    self.server.configuration.log.info("accept.resumed", [("listen", self.address)])
                }
                self.server.accepted(client, from: remote)
            } catch {
                switch error.errno {
                case .connectionAborted, .interrupted:
                    continue
                case .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory:
                    self.backOff(error)
                    return
                default:
                    self.server.configuration.log.error("accept.error", [("listen", self.address), ("error", error)])
                    return
                }
            }
        }
    }

    private func backOff(_ error: SystemError) {
        guard !self.backingOff, let registration = self.registration else { return }
        self.backingOff = true
        if !self.starved {
            self.starved = true
            self.server.configuration.log.error("accept.paused", [("listen", self.address), ("error", error),
                                                                   ("retry_ms", 100)])
        }
        self.setInterest([], of: registration)
        self.scheduleRearm()
    }

    /// Watches the socket again after 100 ms; if epoll refuses, says so and tries again later
    /// rather than leave a server that silently never accepts again.
    private func scheduleRearm() {
        self.server.loop.schedule(after: .milliseconds(100)) { [weak self] in
            guard let self, let registration = self.registration else { return }
            if self.setInterest(.readable, of: registration) {
                self.backingOff = false
            } else {
                self.scheduleRearm()
            }
        }
    }

    @discardableResult
    private func setInterest(_ interest: Interest, of registration: Registration) -> Bool {
        do throws(SystemError) {
            try self.server.loop.modify(registration, interest: interest)
            return true
        } catch {
            self.server.configuration.log.error("accept.epoll_error", [("listen", self.address), ("error", error)])
            return false
        }
    }

    func close() {
        if let registration = self.registration {
            self.server.loop.deregister(registration)
            self.registration = nil
        }
        self.socket.close()
        if let path = self.removesFile {
            Socket.removeSocketFile(path)
            self.removesFile = nil
        }
    }
}
