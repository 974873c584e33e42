import Reactor

extension GatewayServer {
    /// Makes the room bus when `--redis` asks for one, and starts connecting (without waiting:
    /// the gateway serves, with local rooms, until Redis answers). A host that does not resolve
    /// is a start-up error: it is resolved once, here, never on the loop.
    func startRoomBus(_ served: [ServedRoute]) throws {
        guard let endpoint = self.configuration.redis else { return }
        let maxMessageSize = served.map(\.settings.maxMessageSize).max() ?? self.configuration.maxMessageSize
        do {
            self.roomBus = try RoomBus(endpoint: endpoint, prefix: self.configuration.redisPrefix,
                                       maxMessageSize: max(maxMessageSize, self.configuration.maxMessageSize),
                                       loop: self.loop, log: self.configuration.log,
                                       instance: self.coordinator?.busInstance)
        } catch {
            throw StartupError(description: "--redis: cannot resolve \(endpoint.host): \(error)")
        }
        self.roomBus?.start()
    }
}
