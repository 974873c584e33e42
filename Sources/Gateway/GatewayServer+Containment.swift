import Glibc
import Reactor

/// Whether programs run in cgroups of their own (`--cgroup`).
public enum ControlGroupSetting: Equatable, Sendable {
    /// No cgroups: the subreaper scan (`containsOrphans`) is what catches daemons.
    case off
    /// Below wsgate's own cgroup when that is a writable cgroup v2 directory (systemd's
    /// `Delegate=yes`, a container's namespace); otherwise off, with a log line that says why.
    case automatic
    /// Below this cgroup v2 directory; wsgate does not start when it cannot use it.
    case directory(String)
}

/// Containment by cgroup v2: every program (per-session or long-lived) is started in a group of
/// its own, `wsgate-PID/pN` below the configured directory, which all its descendants inherit and
/// none can leave. When the program is released its group gets `cgroup.kill` and is removed; a
/// group whose processes are still dying is retried every 50 ms.
extension GatewayServer {
    /// Decides what contains programs; the start-up lines say which (`containmentNote`), after
    /// the routes, so that a gateway that cannot start prints nothing but why.
    func setUpControlGroups() throws {
        let base: ControlGroup
        switch self.configuration.controlGroups {
        case .off:
            if self.configuration.containsOrphans { self.containmentNote = ("subreaper", "off") }
            return
        case .directory(let path):
            guard ControlGroup.isControlGroupDirectory(path) else {
                throw StartupError(description: "--cgroup \(path): not a directory of a cgroup v2 file system")
            }
            base = ControlGroup(path: path)
        case .automatic:
            guard let own = ControlGroup.current() else {
                self.containmentNote = ("subreaper", "no cgroup v2 hierarchy")
                return
            }
            guard access(own.path, W_OK) == 0 else {
                self.containmentNote = ("subreaper", "\(own.path) is not writable")
                return
            }
            base = own
        }
        Self.removeStaleGroups(in: base)
        let root = base.child("wsgate-\(getpid())")
        do {
            try root.create()
        } catch {
            if case .directory(let path) = self.configuration.controlGroups {
                throw StartupError(description: "--cgroup \(path): cannot create \(root.path): \(error)")
            }
            self.containmentNote = ("subreaper", "cannot create \(root.path): \(error)")
            return
        }
        self.controlGroupRoot = root
        self.containmentNote = ("cgroup", root.path)
    }

    /// The group for the next program; nil when cgroups are not used.
    func nextControlGroup() -> ControlGroup? {
        guard let root = self.controlGroupRoot else { return nil }
        self.controlGroupsMade += 1
        return root.child("p\(self.controlGroupsMade)")
    }

    /// Kills what is left in a finished program's group and removes it, now or once it is empty.
    func retire(_ group: ControlGroup) {
        group.killAll()
        if group.remove() { return }
        self.retiringGroups.append(group)
        self.scheduleRetiring()
    }

    private func scheduleRetiring() {
        guard self.retiringTimer == nil else { return }
        self.retiringTimer = self.loop.schedule(after: .milliseconds(50)) { [unowned self] in
            self.retiringTimer = nil
            self.retiringGroups.removeAll { group in
                if group.remove() { return true }
                group.killAll()  // a fork that raced the first kill
                return false
            }
            if !self.retiringGroups.isEmpty { self.scheduleRetiring() }
        }
    }

    /// At the end of `run`, or when start-up fails: everything in wsgate's groups killed, the
    /// groups removed, waiting up to a second for killed processes to go.
    func removeControlGroups() {
        guard let root = self.controlGroupRoot else { return }
        if let timer = self.retiringTimer { self.loop.cancel(timer) }
        self.retiringTimer = nil
        self.retiringGroups = []
        if !root.removeAll() {
            self.configuration.log.error("server.containment", [("cgroup", root.path), ("error", "not empty at exit")])
        }
        self.controlGroupRoot = nil
    }

    /// Groups an earlier wsgate left when it was killed (SIGKILL runs no clean-up): `wsgate-PID`
    /// whose PID is no longer running.
    private static func removeStaleGroups(in base: ControlGroup) {
        for name in base.children() where name.hasPrefix("wsgate-") {
            guard let pid = pid_t(name.dropFirst("wsgate-".count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            base.child(name).removeAll(patience: .milliseconds(100))
        }
    }
}
