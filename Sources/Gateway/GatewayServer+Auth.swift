import Reactor
import WebSocket

extension GatewayServer {
    /// The policies the routes use: a route's own, else the server-wide one.
    var authPolicies: [AuthPolicy] {
        self.configuration.routes.compactMap { $0.auth ?? self.configuration.auth }
    }

    /// Reads every credential file again (SIGHUP). New handshakes are checked against the new
    /// files; a file that fails to load is logged and the old contents stay. Checked passwords
    /// are forgotten, so a removed or changed user is refused from now on.
    public func reloadAuthFiles() {
        let policies = self.authPolicies
        guard !policies.isEmpty else { return }
        do {
            self.credentials = try CredentialStore.load(for: policies)
            self.passwordCache.removeAll()
            if self.speaksForProcess { self.configuration.log.info("auth.reloaded", [("files", self.credentials.count)]) }
        } catch {
            if self.speaksForProcess { self.configuration.log.error("auth.reload_failed", [("error", error.description)]) }
        }
    }

    /// Checks a password off the loop thread; a pair checked before (since the last reload) is
    /// answered at once. `completion` runs on the loop thread.
    func verifyPassword(user: String, password: String, hash: PasswordHash, completion: @escaping (Bool) -> Void) {
        let key = SHA1.hash(self.passwordCacheSalt + Array("\(user)\0\(password)\0\(hash.text)".utf8))
        if self.passwordCache.contains(key) {
            completion(true)
            return
        }
        guard let workers = self.blockingWorkers() else {
            completion(hash.verify(password))  // no thread could be made: check here
            return
        }
        workers.submit({ hash.verify(password) }) { [unowned self] matches in
            if matches {
                // Bounded: a flood of distinct good passwords only costs re-checking.
                if self.passwordCache.count >= 4096 { self.passwordCache.removeAll() }
                self.passwordCache.insert(key)
            }
            completion(matches)
        }
    }

    /// Threads for password checks; made on first use. nil when none can be made.
    private func blockingWorkers() -> BlockingWorkers? {
        if let workers = self.passwordWorkers { return workers }
        self.passwordWorkers = try? BlockingWorkers(threads: 2, loop: self.loop)
        return self.passwordWorkers
    }

    /// Runs an auth command with `session`'s CGI environment; `completion` gets who it let in, or
    /// the refusal (403; 500 when it could not start).
    func runAuthCommand(_ command: ProgramCommand, for session: Session, route: Route,
                        completion: @escaping (Result<Authentication, AuthRefusal>) -> Void) {
        let (scriptName, pathInfo) = route.scriptNameAndPathInfo(for: session.path)
        let environment = self.cgiEnvironment(for: session, scriptName: scriptName, pathInfo: pathInfo)
        let request = SpawnWorkers.Request(executable: self.resolvedPath(of: command.executable),
                                           arguments: command.arguments, environment: environment.variables,
                                           terminal: false, quiet: true)
        guard let workers = self.spawnWorkers() else {
            completion(.failure(AuthRefusal(HTTPResponse(status: 500, body: "cannot run the auth command"))))
            return
        }
        workers.spawn(request) { [unowned self] result in
            let child: ChildProcess
            switch result {
            case .failure(let error):
                session.log.error("auth.command_failed", [("command", command), ("error", error)])
                completion(.failure(AuthRefusal(HTTPResponse(status: 500, body: "cannot run the auth command"))))
                return
            case .success(let started):
                child = started
            }
            self.authCommandPids.insert(child.pid)
            self.coordinator?.own(child.pid)
            let timeout = self.configuration.authCommandTimeout
            _ = AuthCommandRun(child: child, loop: self.loop, timeout: timeout) { [unowned self] outcome in
                self.authCommandPids.remove(child.pid)
                self.coordinator?.disown(child.pid)
                guard let status = outcome.status else {
                    session.log.error("auth.command_timeout", [("command", command), ("timeout_ms", timeout.milliseconds)])
                    completion(.failure(AuthRefusal(AuthCheck.forbidden("the auth command did not answer in time"))))
                    return
                }
                guard status.isSuccess else {
                    session.log.info("auth.command_refused", [("command", command), ("status", status)])
                    completion(.failure(AuthRefusal(AuthCheck.forbidden("refused by the auth command"))))
                    return
                }
                completion(.success(Authentication(user: CGIEnvironment.cleaned(outcome.firstLine), type: "Command")))
            }
        }
    }
}

/// The HTTP refusal of an auth check, as an error.
struct AuthRefusal: Error {
    let response: HTTPResponse

    init(_ response: HTTPResponse) {
        self.response = response
    }
}

extension CredentialStore {
    var count: Int { self.htpasswd.count + self.tokens.count }
}
