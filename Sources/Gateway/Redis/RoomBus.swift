import Reactor
import WebSocket

/// What receives a room's messages from other instances: a broadcast room, a fanout route's program.
protocol RoomBusListener: AnyObject {
    /// A message another instance published on `channel` (the name without the prefix).
    /// - Returns: false when it could not be taken (a program's stdin full): the bus counts it.
    func roomBus(_ bus: RoomBus, deliver opcode: Opcode, _ payload: [UInt8], on channel: String) -> Bool
}

/// The rooms that span every wsgate connected to the same Redis (`--redis`): one per gateway.
///
/// A room is a channel name (`broadcast:/chat/lobby`, `fanout:/feed`) under the prefix. Messages
/// are published with `PUBLISH prefix+name envelope` (`RoomEnvelope`); the instance subscribes to
/// a channel while it has a listener for it (`SUBSCRIBE` on the first, `UNSUBSCRIBE` after the
/// last) and after every reconnect to all of them again.
///
/// Two connections, because a RESP2 connection in subscriber mode may send nothing but
/// (un)subscribe commands: one publishes (pipelined, replies read and discarded), one subscribes.
/// Per-sender order holds: one publishing connection per instance, and Redis delivers each
/// publisher's messages in order.
///
/// Redis down: local delivery never waits for Redis. A message that cannot be published (no
/// connection, or `maxQueuedBytes` already waiting for a slow Redis) is dropped and counted in
/// `counters.dropped`; nothing is queued for later, so memory stays bounded through an outage. The
/// outage and the recovery are logged once each (`redis.down`, `redis.up`).
final class RoomBus: RedisConnectionDelegate {
    /// What the bus did since it started: for logs, tests and metrics.
    struct Counters: Equatable {
        /// Messages handed to Redis.
        var published = 0
        /// Messages from other instances delivered to a local room.
        var received = 0
        /// Messages that could not be published (Redis down or too slow) or delivered (a program's
        /// stdin full), and dropped.
        var dropped = 0
        /// Messages on a room's channel that are no wsgate envelope (a foreign publisher).
        var malformed = 0
    }

    static let maxQueuedBytes = 4 << 20

    let endpoint: RedisEndpoint
    let prefix: String
    /// Random per process, so an instance recognises its own publications (with `--threads`, every
    /// loop's bus has the process's: the loops reach each other through their inboxes).
    let instance: [UInt8]
    private(set) var counters = Counters()
    private let publisher: RedisConnection
    private let subscriber: RedisConnection
    private var listeners: [String: [any RoomBusListener]] = [:]
    private let log: Log
    private enum Health: Equatable { case starting, up, down(refused: Bool) }
    private var health = Health.starting
    private var publishErrorLogged = false

    /// Resolves the host (blocking: this runs at start-up) and prepares both connections.
    /// - Parameters:
    ///   - maxMessageSize: the largest message any route takes; a longer publication is refused.
    init(endpoint: RedisEndpoint, prefix: String, maxMessageSize: Int, loop: EventLoop, log: Log,
         instance: [UInt8]? = nil) throws(SocketAddress.Error)
    {
        self.endpoint = endpoint
        self.instance = instance ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        self.prefix = prefix
        self.log = log.with("redis", endpoint)
        let addresses = try SocketAddress.resolve(host: endpoint.host, port: endpoint.port)
        var limits = RESPLimits()
        limits.maxBulkLength = maxMessageSize + RoomEnvelope.headerLength + 4096
        limits.maxValueBytes = 2 * limits.maxBulkLength + 4096
        self.publisher = RedisConnection(role: "publish", endpoint: endpoint, addresses: addresses, limits: RESPLimits(),
                                         maxOutputBytes: Self.maxQueuedBytes, loop: loop)
        self.subscriber = RedisConnection(role: "subscribe", endpoint: endpoint, addresses: addresses, limits: limits,
                                          maxOutputBytes: Self.maxQueuedBytes, loop: loop)
        self.publisher.delegate = self
        self.subscriber.delegate = self
    }

    /// Connects both; the gateway serves meanwhile, with rooms local until Redis answers.
    func start() {
        self.publisher.start()
        self.subscriber.start()
    }

    func stop() {
        self.publisher.stop()
        self.subscriber.stop()
    }

    /// Whether both connections are up.
    var isUp: Bool { self.health == .up }

    // MARK: Rooms

    /// Delivers `name`'s messages from other instances to `listener` from now on.
    func join(_ name: String, _ listener: any RoomBusListener) {
        let channel = self.prefix + name
        let first = self.listeners[channel] == nil
        self.listeners[channel, default: []].append(listener)
        if first { self.subscriber.send { RESPEncoder.appendCommand([Array("SUBSCRIBE".utf8), Array(channel.utf8)], to: &$0) } }
    }

    func leave(_ name: String, _ listener: any RoomBusListener) {
        let channel = self.prefix + name
        guard var list = self.listeners[channel] else { return }
        list.removeAll { $0 === listener }
        if !list.isEmpty {
            self.listeners[channel] = list
            return
        }
        self.listeners[channel] = nil
        self.subscriber.send { RESPEncoder.appendCommand([Array("UNSUBSCRIBE".utf8), Array(channel.utf8)], to: &$0) }
    }

    /// Channels subscribed to (or to subscribe to once connected), prefix included.
    var channels: [String] { Array(self.listeners.keys) }

    /// Publishes a message of the room `name` to the other instances, or counts it as dropped.
    func publish(_ name: String, opcode: Opcode, payload: [UInt8]) {
        let channel = self.prefix + name
        let queued = self.publisher.send { buffer in
            RESPEncoder.appendHeader(UInt8(ascii: "*"), 3, to: &buffer)
            RESPEncoder.appendBulk(Array("PUBLISH".utf8), to: &buffer)
            RESPEncoder.appendBulk(Array(channel.utf8), to: &buffer)
            RESPEncoder.appendHeader(UInt8(ascii: "$"), RoomEnvelope.headerLength + payload.count, to: &buffer)
            RoomEnvelope.appendHeader(opcode: opcode, instance: self.instance, to: &buffer)
            buffer.append(contentsOf: payload)
            buffer.append(contentsOf: [0x0D, 0x0A])
        }
        if queued { self.counters.published += 1 } else { self.counters.dropped += 1 }
    }

    // MARK: RedisConnectionDelegate

    func redisConnectionDidBecomeReady(_ connection: RedisConnection) {
        if connection === self.subscriber, !self.listeners.isEmpty {
            let channels = self.listeners.keys.sorted().map { Array($0.utf8) }
            connection.send { RESPEncoder.appendCommand([Array("SUBSCRIBE".utf8)] + channels, to: &$0) }
        }
        if connection === self.publisher { self.publishErrorLogged = false }
        guard self.publisher.isReady, self.subscriber.isReady, self.health != .up else { return }
        let recovered = self.health != .starting
        self.health = .up
        self.log.info(recovered ? "redis.up" : "redis.connected",
                      [("prefix", self.prefix), ("channels", self.listeners.count), ("dropped", self.counters.dropped)])
    }

    func redisConnection(_ connection: RedisConnection, didFail reason: String, refused: Bool) {
        let health = Health.down(refused: refused)
        guard self.health != health else {
            self.log.debug("redis.retry_failed", [("role", connection.role), ("reason", reason)])
            return
        }
        self.health = health
        // A refused login is a configuration mistake, said as such; an outage is said once.
        self.log.error(refused ? "redis.login_refused" : "redis.down",
                       [("role", connection.role), ("reason", reason), ("retry", "backing off up to \(RedisConnection.longestRetryDelay)")])
    }

    func redisConnection(_ connection: RedisConnection, didReceive value: RESPValue) {
        if connection === self.publisher {
            if case .error(let text) = value {
                self.counters.dropped += 1
                if !self.publishErrorLogged {
                    self.publishErrorLogged = true
                    self.log.error("redis.publish_error", [("reason", text)])
                }
            }
            return
        }
        // RESP2 pushes: ["message", channel, payload]; ["subscribe"|"unsubscribe", channel, count].
        guard case .array(let elements?) = value, elements.count == 3, elements[0] == .bulk(Array("message".utf8)),
              case .bulk(let channelBytes?) = elements[1], case .bulk(let payload?) = elements[2]
        else { return }
        let channel = String(decoding: channelBytes, as: UTF8.self)
        guard let listeners = self.listeners[channel] else { return }
        guard let envelope = RoomEnvelope(decoding: payload) else {
            self.counters.malformed += 1
            return
        }
        guard envelope.instance != self.instance else { return }
        let name = String(channel.dropFirst(self.prefix.count))
        for listener in listeners {
            if listener.roomBus(self, deliver: envelope.opcode, envelope.payload, on: name) {
                self.counters.received += 1
            } else {
                self.counters.dropped += 1
            }
        }
    }
}
