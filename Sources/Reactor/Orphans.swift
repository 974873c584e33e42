import CGlibc
import Glibc

/// Descendants that outlive the child wsgate started: a daemon that double-forked with `setsid`
/// leaves its process group, so signalling the group cannot reach it.
///
/// With `becomeSubreaper()` such orphans are reparented to this process instead of init, so they
/// show up as its children: `children()` lists them, `environment(of:)` tells whose they were
/// (programs carry a `UNIQUE_ID`), and `reapExited(sparing:)` collects the ones that exited,
/// leaving alone the children whose exit someone else collects through a pidfd.
///
/// Where a writable cgroup v2 directory is delegated to wsgate, `ControlGroup` contains every
/// descendant without a scan, even one that clears its environment; this is the fallback.
public enum Orphans {
    /// Makes orphaned descendants this process's children.
    /// The corresponding C function is `prctl(2)` with PR_SET_CHILD_SUBREAPER.
    public static func becomeSubreaper() throws(SystemError) {
        _ = try systemCall("prctl(PR_SET_CHILD_SUBREAPER)") { wsgate_become_child_subreaper() }
    }

    /// This process's children (every thread's), from `/proc/self/task/*/children`.
    public static func children() -> [pid_t] {
        var result: [pid_t] = []
        guard let tasks = opendir("/proc/self/task") else { return [] }
        defer { closedir(tasks) }
        while let entry = readdir(tasks) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let _ = Int32(name) else { continue }
            let text = FileContents.text("/proc/self/task/\(name)/children")
            result += text.split(separator: " ").compactMap { Int32($0) }
        }
        return result
    }

    /// Whether `pid`'s environment holds `entry` ("UNIQUE_ID=123"). False when it cannot be read.
    public static func environment(of pid: pid_t, contains entry: String) -> Bool {
        let bytes = Array(FileContents.text("/proc/\(pid)/environ").utf8)
        return bytes.split(separator: 0).contains { $0.elementsEqual(entry.utf8) }
    }

    /// Reaps every exited child that `isOwned` does not claim; stops at the first owned one (its
    /// owner reaps it, and the next call goes on past it).
    /// - Returns: how many were reaped.
    /// The corresponding C functions are `waitid(2)` with WNOWAIT, then `waitpid(2)`.
    @discardableResult
    public static func reapExited(sparing isOwned: (pid_t) -> Bool) -> Int {
        var reaped = 0
        while true {
            var pid: pid_t = 0
            guard wsgate_peek_exited_child(&pid) == 0, pid > 0, !isOwned(pid) else { return reaped }
            var status: CInt = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return reaped }
            reaped += 1
        }
    }
}

extension Signal {
    /// A child stopped or exited.
    public static let child = Signal(rawValue: SIGCHLD)
}

/// Sends `signal` to the process `pid`, or with `group` to its process group.
/// The corresponding C function is `kill(2)`.
public func sendSignal(_ signal: Signal, to pid: pid_t, group: Bool = false) {
    _ = Glibc.kill(group ? -pid : pid, signal.rawValue)
}
