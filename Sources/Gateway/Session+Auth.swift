import Reactor
import WebSocket

extension Session {
    /// Checks the request against `policy`, then starts the handler or refuses (401, 403). While a
    /// password is checked or an auth command runs, the session waits in `.preparing`, as for a
    /// program being started: the client is not read, and its leaving is still noticed.
    func authenticate(under policy: AuthPolicy, route: ServedRoute, accepted: ServerHandshake.Accepted, rest: [UInt8]) {
        guard let head = self.request else { preconditionFailure("authenticate before the request") }
        switch AuthCheck.of(head, under: policy, files: self.server.credentials) {
        case .allowed(let who):
            self.authenticated(as: who, route: route, accepted: accepted, rest: rest)
        case .refused(let response):
            self.refuseAuthentication(response, route: route)
        case .verifyPassword(let user, let password, let hash):
            self.awaitAuthentication(route: route, accepted: accepted, rest: rest)
            self.server.verifyPassword(user: user, password: password, hash: hash) { [self] matches in
                self.authenticationFinished(
                    matches ? .success(Authentication(user: user, type: policy.authType))
                        : .failure(AuthRefusal(AuthCheck.unauthorized(policy, "wrong user or password"))))
            }
        case .runCommand(let command):
            self.awaitAuthentication(route: route, accepted: accepted, rest: rest)
            self.server.runAuthCommand(command, for: self, route: route.route) { [self] result in
                self.authenticationFinished(result)
            }
        }
    }

    private func awaitAuthentication(route: ServedRoute, accepted: ServerHandshake.Accepted, rest: [UInt8]) {
        self.phase = .preparing(Preparation(route: route, accepted: accepted, rest: rest))
        self.updateInterest()
    }

    /// The end of a check that ran off the loop: ignored when the client has left meanwhile.
    private func authenticationFinished(_ result: Result<Authentication, AuthRefusal>) {
        guard case .preparing(let waiting) = self.phase else { return }
        switch result {
        case .success(let who):
            self.authenticated(as: who, route: waiting.route, accepted: waiting.accepted, rest: waiting.rest)
        case .failure(let refusal):
            self.refuseAuthentication(refusal.response, route: waiting.route)
        }
        self.flush()
    }

    /// 401 or 403, counted for `wsgate_auth_refusals_total` (and, as every refused upgrade, for
    /// `wsgate_handshake_failures_total`).
    private func refuseAuthentication(_ response: HTTPResponse, route: ServedRoute) {
        self.server.metrics?.authRefused(route: route.pattern)
        self.reject(response, logAs: "handshake.unauthorized")
    }

    private func authenticated(as who: Authentication, route: ServedRoute, accepted: ServerHandshake.Accepted,
                               rest: [UInt8]) {
        self.authentication = who
        if !who.user.isEmpty { self.log = self.log.with("user", who.user) }
        self.log.debug("auth.allowed", [("type", who.type)])
        self.startHandler(route: route, accepted: accepted, rest: rest)
    }
}
