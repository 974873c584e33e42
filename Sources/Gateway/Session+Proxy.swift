import WebSocket

extension Session {
    /// Takes the client's address from a trusted proxy's headers (`--trust-proxy`), for
    /// REMOTE_ADDR and the log's `client=` field; each request on a kept-alive connection decides
    /// afresh, since a proxy may carry requests of several clients over one connection.
    func adoptForwardedClient(_ head: HTTPHead) {
        let client = self.server.configuration.trustedProxies.clientAddress(peer: self.remoteAddress, head: head)
        let text = client?.description
        guard text != self.clientAddress else { return }
        self.clientAddress = text
        let base = self.server.configuration.log.with("id", self.id).with("remote", self.remoteAddress)
        self.log = text.map { base.with("client", $0) } ?? base
    }
}
