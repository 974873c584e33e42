import CGlibc
import Glibc

/// A cgroup v2 directory that holds every descendant of a program, however it forks or detaches.
///
/// A daemon that leaves its process group and clears its environment escapes the subreaper scan
/// (`Orphans`), never its cgroup: membership is inherited by every fork and cannot be left without
/// write access to another cgroup. `ChildProcess.spawn(controlGroup:)` creates the directory and
/// moves the child into it before it execs; `killAll()` then `remove()` end everything in it.
public struct ControlGroup: Hashable, Sendable, CustomStringConvertible {
    /// The directory, e.g. `/sys/fs/cgroup/system.slice/wsgate.service/wsgate-812/p17`.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var description: String { self.path }

    /// A group below this one.
    public func child(_ name: String) -> ControlGroup {
        ControlGroup(path: self.path + "/" + name)
    }

    /// Creates the directory; an existing one is fine.
    /// The corresponding C function is `mkdir(2)`.
    public func create() throws(SystemError) {
        do {
            _ = try systemCall("mkdir") { mkdir(self.path, 0o755) }
        } catch where error.errno == Errno(rawValue: EEXIST) {
        }
    }

    /// `cgroup.procs` open for writing, for a child to move itself in (see `ChildProcess.spawn`).
    /// The corresponding C function is `open(2)`.
    func openProcesses() throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try systemCall("open") { open(self.path + "/cgroup.procs", O_WRONLY | O_CLOEXEC) })
    }

    /// SIGKILL to every process in the group and below, at once (`cgroup.kill`, Linux 5.14); on
    /// older kernels to each pid `cgroup.procs` lists, which a forking process can race.
    public func killAll() {
        let fd = open(self.path + "/cgroup.kill", O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { Glibc.close(fd) }
            if Glibc.write(fd, "1", 1) == 1 { return }
        }
        for pid in self.processes() { _ = Glibc.kill(pid, SIGKILL) }
    }

    /// The pids in this group itself (not its children), from `cgroup.procs`.
    public func processes() -> [pid_t] {
        FileContents.text(self.path + "/cgroup.procs").split(whereSeparator: \.isNewline).compactMap { pid_t($0) }
    }

    /// The groups directly below this one, by name.
    /// The corresponding C functions are `opendir(3)` and `readdir(3)`.
    public func children() -> [String] {
        guard let directory = opendir(self.path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Kills everything in this group and below, then removes the groups below and this one,
    /// waiting up to `patience` for the killed processes to go.
    /// - Returns: whether the group is gone.
    @discardableResult
    public func removeAll(patience: Duration = .seconds(1)) -> Bool {
        self.killAll()
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        while true {
            for name in self.children() { self.child(name).removeAll(patience: .zero) }
            if self.remove() { return true }
            if clock.now >= deadline { return false }
            usleep(10_000)
        }
    }

    /// Removes the directory, which the kernel allows only once no process is left in it.
    /// - Returns: false while processes remain (EBUSY; a killed one takes a moment to exit);
    ///   true when it is gone, or was already.
    /// The corresponding C function is `rmdir(2)`.
    @discardableResult
    public func remove() -> Bool {
        rmdir(self.path) == 0 || errno == ENOENT
    }

    /// Whether `path` is a directory on a cgroup v2 file system.
    /// The corresponding C function is `statfs(2)`.
    public static func isControlGroupDirectory(_ path: String) -> Bool {
        var info = statfs()
        return statfs(path, &info) == 0 && UInt(bitPattern: Int(info.f_type)) == 0x6367_7270  // CGROUP2_SUPER_MAGIC
    }

    /// This process's own cgroup v2 directory: the `0::` line of `/proc/self/cgroup` below the
    /// cgroup2 mount point that `/proc/self/mountinfo` lists. nil without a cgroup v2 hierarchy.
    public static func current() -> ControlGroup? {
        let membership = FileContents.text("/proc/self/cgroup").split(separator: "\n")
            .first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        guard let membership else { return nil }
        // mountinfo: "id parent major:minor root mountpoint options ... - fstype source superoptions"
        for line in FileContents.text("/proc/self/mountinfo").split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { continue }
            let fields = halves[0].split(separator: " ")
            guard fields.count >= 5 else { continue }
            let root = String(fields[3])
            let mountPoint = String(fields[4])
            // The mount shows the hierarchy from `root` on; our membership is relative to the top.
            guard membership == root || membership.hasPrefix(root == "/" ? "/" : root + "/") else { continue }
            let below = root == "/" ? membership : String(membership.dropFirst(root.count))
            let path = below == "/" ? mountPoint : mountPoint + below
            return ControlGroup(path: path)
        }
        return nil
    }
}
