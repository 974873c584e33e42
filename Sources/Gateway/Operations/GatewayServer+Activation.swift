import Reactor

extension GatewayServer {
    /// Serves the listening sockets a service manager passed (socket activation) instead of
    /// binding any: TCP or Unix, as the unit's `ListenStream=` made them.
    func adoptPassedSockets(_ passed: [SocketActivation.PassedSocket]) throws(StartupError) {
        for socket in passed {
            let named = socket.name.map { "\($0) (fd \(socket.fd))" } ?? "fd \(socket.fd)"
            do throws(SystemError) {
                let adopted = try Socket.adoptListening(socket.fd)
                let address: SocketAddress
                do {
                    address = try adopted.localAddress
                } catch {
                    adopted.close()
                    throw error
                }
                try self.addListener(adopted, address: address, passedAs: socket.name ?? "")
            } catch {
                throw StartupError(description: "cannot serve the passed socket \(named): \(error)")
            }
        }
    }
}
