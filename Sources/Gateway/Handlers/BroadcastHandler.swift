import WebSocket

/// The sessions of one concrete path, for the built-in broadcast handler.
///
/// Each message is encoded once and the same bytes are queued on every other member; with
/// compression, compressed once for the members without context takeover (`FanoutMessage`). A
/// member that falls more than `maxQueuedBytes` behind is dropped with 1008 rather than letting
/// memory grow: the senders cannot be slowed down for one slow reader.
///
/// With a room bus (`--redis`) the room spans every instance: each message is published too, and
/// the other instances' messages are delivered to every member here. With several event loops
/// (`--threads`) each loop has its own room of the path, and each message is relayed to the
/// other loops' rooms (`BroadcastRelay`).
final class BroadcastRoom: RoomBusListener {
    let path: String
    private(set) var members: [ObjectIdentifier: Session] = [:]
    var isEmpty: Bool { self.members.isEmpty }
    /// The room's name on the bus.
    var channel: String { "broadcast:" + self.path }
    private let bus: RoomBus?
    private let relay: BroadcastRelay?

    init(path: String, bus: RoomBus?, relay: BroadcastRelay?) {
        self.path = path
        self.bus = bus
        self.relay = relay
    }

    func join(_ session: Session) { self.members[ObjectIdentifier(session)] = session }
    func leave(_ session: Session) { self.members[ObjectIdentifier(session)] = nil }

    func broadcast(_ message: Message, from sender: Session) {
        guard self.members.count > 1 || self.bus != nil || self.relay != nil else { return }
        let fanout = FanoutMessage(message)
        self.bus?.publish(self.channel, opcode: fanout.opcode, payload: fanout.payload)
        self.relay?(self.path, fanout.opcode, fanout.payload)
        for member in self.members.values where member !== sender {
            member.send(fanout, dropIfBehind: true)
        }
    }

    func roomBus(_ bus: RoomBus, deliver opcode: Opcode, _ payload: [UInt8], on channel: String) -> Bool {
        self.deliver(opcode, payload)
        return true
    }

    /// A message from elsewhere (another instance, another loop): for every member here.
    func deliver(_ opcode: Opcode, _ payload: [UInt8]) {
        let fanout = FanoutMessage(opcode: opcode, payload: payload)
        for member in self.members.values { member.send(fanout, dropIfBehind: true) }
    }
}

/// Hands a room's message (path, opcode, payload) to the other event loops.
typealias BroadcastRelay = (String, Opcode, [UInt8]) -> Void

/// Joins the session to its path's room and relays its messages to the room.
final class BroadcastHandler: SessionHandler {
    private let rooms: BroadcastRooms
    private var room: BroadcastRoom?

    init(rooms: BroadcastRooms) {
        self.rooms = rooms
    }

    func sessionDidOpen(_ session: Session) {
        self.room = self.rooms.join(session)
    }

    func session(_ session: Session, didReceive message: Message) {
        self.room?.broadcast(message, from: session)
    }

    func sessionDidClose(_ session: Session, code: CloseCode, reason: String) {
        if let room = self.room {
            self.rooms.leave(session, room)
        }
        self.room = nil
    }
}

/// Every broadcast room of a route, by concrete path; a room lives while it has members.
/// With a room bus, a room is subscribed to while it has members here.
final class BroadcastRooms: RouteService {
    private var rooms: [String: BroadcastRoom] = [:]
    private let bus: RoomBus?
    private let relay: BroadcastRelay?

    init(bus: RoomBus?, relay: BroadcastRelay? = nil) {
        self.bus = bus
        self.relay = relay
    }

    /// A message a member on another loop sent to the room `path`: for this loop's members.
    func deliverFromOtherLoop(path: String, _ opcode: Opcode, _ payload: [UInt8]) {
        self.rooms[path]?.deliver(opcode, payload)
    }

    func join(_ session: Session) -> BroadcastRoom {
        let room: BroadcastRoom
        if let existing = self.rooms[session.path] {
            room = existing
        } else {
            room = BroadcastRoom(path: session.path, bus: self.bus, relay: self.relay)
            self.rooms[session.path] = room
            self.bus?.join(room.channel, room)
        }
        room.join(session)
        return room
    }

    func leave(_ session: Session, _ room: BroadcastRoom) {
        room.leave(session)
        if room.isEmpty {
            self.rooms[room.path] = nil
            self.bus?.leave(room.channel, room)
        }
    }

    func start() {}

    func prepareHandler(for session: Session, request: HTTPHead) -> GatewayServer.HandlerPreparation {
        .ready(BroadcastHandler(rooms: self))
    }

    func beginShutdown() {}

    /// A removed broadcast route's rooms run in-process and cost nothing: their sessions keep them.
    func retire(code: CloseCode, reason: String) {}
}
