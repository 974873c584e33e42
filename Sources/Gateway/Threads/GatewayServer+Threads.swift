import Reactor
import WebSocket

/// Several event loops (`--threads N`): each loop is a `GatewayServer` of its own (sessions,
/// timers, read buffer, compression streams, rooms, spawn workers), and a `LoopCoordinator`
/// holds what the process shares. The first loop is the one `GatewayServer(configuration:)`
/// returns and the caller runs: it binds, takes signals, logs process-wide events, and starts
/// the others on threads of their own when it runs.
///
/// - Listeners: every TCP address is bound once per loop with SO_REUSEPORT, so the kernel spreads
///   connections over the loops with no hand-off; Unix and passed sockets cannot be bound again,
///   so every loop watches one shared socket and whichever wakes first accepts.
/// - Broadcast rooms: each loop has its rooms; a message is delivered to the sender's loop's
///   members at once and relayed to the other loops through their inboxes (once per iteration,
///   a batch per loop), which deliver it to theirs. Per-sender order holds: one sender lives on
///   one loop, and each inbox keeps the order it was given.
/// - Long-lived programs (`shared`, `shared-json`, `fanout`): the program and its service run on
///   the first loop; other loops keep their sessions of the route (`RemoteProgramService`) and
///   send their open, message and close events to it; its output (messages, closes, pause and
///   resume, down and up) comes back one batch per loop and is fanned out there.
/// - Shutdown, reload: the first loop stops the others (their `StopHandle`) and forwards SIGHUP
///   (`LoopMessage.hangup`); it returns from `run` once every loop has closed its sessions.
extension GatewayServer {
    /// Whether this loop logs process-wide events (a reload, a TLS or credential file read
    /// again): the first loop does, so that each event is one line however many loops there are.
    var speaksForProcess: Bool { self.loopIndex == 0 }

    /// On the first loop, in `init`: makes the other loops, which share its listeners.
    func makeOtherLoops(_ loops: Int) throws {
        guard let coordinator = self.coordinator else { return }
        do {
            for index in 1..<loops {
                let other = try GatewayServer(configuration: self.configuration, loopIndex: index,
                                              coordinator: coordinator, first: self)
                self.otherLoops.append(other)
                self.otherLoopStops.append(other.shutdownHandle)
            }
        } catch {
            for other in self.otherLoops { other.abandon() }
            self.otherLoops = []
            self.abandon()
            throw error
        }
    }

    /// Listens where `first` does: TCP addresses bound again (SO_REUSEPORT), Unix and passed
    /// sockets shared.
    func shareListeners(of first: GatewayServer) throws {
        for listener in first.listeners {
            let socket: Socket
            do {
                if listener.address.isUnix || listener.passedName != nil {
                    socket = try listener.socket.duplicate()
                } else {
                    socket = try Socket.listen(on: listener.address, reusePort: true)
                }
            } catch {
                throw StartupError(description: "--threads: cannot listen on \(listener.address) "
                    + "for loop \(self.loopIndex): \(error)")
            }
            do {
                try self.addListener(socket, address: listener.address, passedAs: listener.passedName)
            } catch {
                socket.close()
                throw StartupError(description: "--threads: cannot watch \(listener.address): \(error)")
            }
        }
    }

    /// Another loop's programs get cgroups below the first loop's root, in `loopN`, so that
    /// names never collide.
    func setUpLoopControlGroup(below first: GatewayServer) throws {
        self.containmentNote = first.containmentNote
        guard let root = first.controlGroupRoot else { return }
        let mine = root.child("loop\(self.loopIndex)")
        do {
            try mine.create()
        } catch {
            throw StartupError(description: "--cgroup: cannot create \(mine.path): \(error)")
        }
        self.controlGroupRoot = mine
    }

    /// On the first loop's thread, once its signals are blocked: runs every other loop on a
    /// thread of its own. From now on they are reached only through their inboxes and stops.
    func startOtherLoops() throws {
        guard let coordinator = self.coordinator else { return }
        let others = self.otherLoops
        self.otherLoops = []
        for other in others {
            let handover = LoopHandover(server: other)
            do {
                try coordinator.threads.start {
                    let server = handover.server
                    do {
                        try server.run()
                    } catch {
                        server.configuration.log.fatal("server.error", [("loop", server.loopIndex), ("error", "\(error)")])
                    }
                }
            } catch {
                throw StartupError(description: "--threads: cannot start a thread: \(error)")
            }
        }
    }

    /// On the first loop, after its own sessions closed: waits for the other loops to close theirs
    /// (each bounded by its own shutdown timeout).
    func waitForOtherLoops() {
        guard let coordinator = self.coordinator else { return }
        let timeout = self.configuration.shutdownTimeout + self.configuration.closeTimeout + .seconds(2)
        if !coordinator.threads.wait(forFinished: coordinator.loopCount - 1, timeout: timeout) {
            self.configuration.log.error("server.shutdown_timeout", [("threads", "a loop did not stop in time")])
        }
    }

    /// With `--metrics`: hands this loop's counters to the coordinator every second, for a
    /// scrape another loop answers (it adds them to its own, which are current).
    func publishMetricsEverySecond() {
        guard let coordinator = self.coordinator, let metrics = self.metrics else { return }
        let counters = metrics.snapshot(sessions: self.liveSessions, roomBus: self.roomBus?.counters)
        coordinator.publishMetrics(.init(counters: counters, programs: self.programs.count), loop: self.loopIndex)
        self.loop.schedule(after: .seconds(1)) { [unowned self] in self.publishMetricsEverySecond() }
    }

    // MARK: Messages between loops

    /// Relays a broadcast route's messages to the same room on the other loops.
    func roomRelay(for route: Route) -> BroadcastRelay {
        let key = Self.serviceKey(for: route) ?? route.pattern
        return { [unowned self] path, opcode, payload in
            self.sendToOtherLoops(.room(service: key, path: path, opcode: opcode, payload: payload))
        }
    }

    /// Queues `message` for every other loop; what this iteration queued is posted after it, one
    /// batch per loop, so the inboxes' lock is taken once per batch, not per message.
    func sendToOtherLoops(_ message: LoopMessage) {
        guard let coordinator = self.coordinator else { return }
        for index in 0..<coordinator.loopCount where index != self.loopIndex {
            self.outbox[index].append(message)
        }
        self.scheduleOutbox()
    }

    /// Queues `message` for loop `index` alone, posted with the rest of this iteration's batch.
    func sendToLoop(_ index: Int, _ message: LoopMessage) {
        guard self.coordinator != nil else { return }
        self.outbox[index].append(message)
        self.scheduleOutbox()
    }

    private func scheduleOutbox() {
        guard !self.outboxScheduled else { return }
        self.outboxScheduled = true
        self.loop.runSoon { [unowned self] in self.flushOutbox() }
    }

    private func flushOutbox() {
        self.outboxScheduled = false
        guard let coordinator = self.coordinator else { return }
        for index in self.outbox.indices where !self.outbox[index].isEmpty {
            let refused = coordinator.inboxes[index].post(self.outbox[index])
            self.outbox[index].removeAll(keepingCapacity: true)
            if refused > 0, coordinator.droppedMessages.wrappingAdd(refused, ordering: .relaxed).oldValue == 0 {
                self.configuration.log.error("threads.inbox_full", [("loop", index), ("dropped", refused),
                                                                    ("capacity", LoopCoordinator.inboxCapacity)])
            }
        }
    }

    /// What other loops sent this one, in the order they sent it.
    func receive(_ batch: [LoopMessage]) {
        // What each loop's sessions of each long-lived route had on their way here, acknowledged
        // once per batch (`RemoteProgramService.inFlight`).
        var taken: [ProgramEventSource: Int] = [:]
        defer {
            for (source, bytes) in taken {
                self.sendToLoop(source.loop, .programOutput(service: source.service, .consumed(bytes)))
            }
        }
        for message in batch {
            switch message {
            case .room(let key, let path, let opcode, let payload):
                (self.services[key] as? BroadcastRooms)?.deliverFromOtherLoop(path: path, opcode, payload)
            case .hangup:
                self.reloadOnSignal()
                self.reloadAuthFiles()
            case .programEvent(let key, let loop, let event):
                let size = event.size
                if size > 0 { taken[ProgramEventSource(service: key, loop: loop), default: 0] += size }
                if let service = self.services[key] as? LongLivedProgramService {
                    service.receive(event, from: loop)
                } else if case .open(.open(let id, _, _, _, _)) = event {
                    // A reload here kept the program's old command, or failed: nothing serves it.
                    self.sendToLoop(loop, .programOutput(service: key, .close(
                        ids: [id], code: CloseCode.serviceRestart.rawValue, reason: "the route's program changed")))
                }
            case .programOutput(let key, let output):
                (self.services[key] as? RemoteProgramService)?.deliver(output)
            }
        }
    }
}

/// A long-lived route's sessions on one loop, as the sender of program events.
private struct ProgramEventSource: Hashable {
    let service: String
    let loop: Int
}

/// A loop handed to the thread that runs it: after the hand-over the first loop touches it only
/// through its `StopHandle` and its inbox, both `Sendable`; nothing else is shared.
private struct LoopHandover: @unchecked Sendable {
    let server: GatewayServer
}
