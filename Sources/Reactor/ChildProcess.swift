import CGlibc
import Glibc

/// A child process started by `spawn`, watched through a pidfd.
///
/// What `spawn` guarantees, and why:
/// - The child leads its own process group, so `signalGroup` reaches everything it started
///   (a shell's background jobs included), and a Ctrl-C aimed at wsgate's group skips it.
///   On a terminal (`.terminal`) it leads its own session, which makes it the leader of a new
///   group all the same (pgid == pid).
/// - Every signal disposition is the default (SIGPIPE included, which wsgate ignores) and
///   the signal mask is empty, so the handler behaves as it would from a shell.
/// - Only descriptors 0, 1 and 2 are open in it.
/// - It gets SIGKILL when the thread that spawned it dies (PR_SET_PDEATHSIG), so a crashed
///   or killed wsgate leaves no orphans. Spawn from a thread that lives as long as the
///   process, such as the loop thread: the kernel ties this to the thread, not the process.
///
/// posix_spawn cannot set PR_SET_PDEATHSIG, so the C shim does what glibc's posix_spawn does
/// internally: clone(CLONE_VM | CLONE_VFORK) onto a private stack, then only
/// async-signal-safe calls up to execve. No page tables are copied, so spawning stays cheap
/// however large wsgate's heap is. CLONE_PIDFD hands back a pidfd in the same step, so
/// neither reaping nor `signal` can ever hit a recycled pid.
///
/// Reaping: `onExit(in:)` registers the pidfd (readable once the child exits) and collects
/// the status with waitid(P_PIDFD); no SIGCHLD handler is involved. Do not set SIGCHLD to
/// SIG_IGN in a process that uses this: the kernel would then reap children itself.
public final class ChildProcess {
    /// How a child ended.
    public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
        /// It called exit with this code.
        case exited(CInt)
        /// A signal ended it.
        case signaled(CInt)
        /// Its pidfd said it ended but waitid(2) failed (ECHILD: something else in the process
        /// reaped it), so how is not known.
        case unknown(Errno)

        /// Whether the child exited with status 0.
        public var isSuccess: Bool {
            self == .exited(0)
        }

        /// "exited with status 3", "killed by SIGKILL".
        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "killed by \(signalName(signal))"
            case .unknown(let error): "ended, status unknown (waitid: \(error.name))"
            }
        }
    }

    /// What one of the child's standard descriptors is connected to.
    public enum StandardIO {
        /// The same descriptor as wsgate's.
        case inherit
        /// /dev/null.
        case discard
        /// A new pipe; wsgate's end (non-blocking) is in `standardInput`, `standardOutput` or
        /// `standardError`. The child's end stays blocking, as programs expect.
        case pipe
        /// A descriptor the caller owns (it stays open in wsgate).
        case descriptor(FileDescriptor)
        /// A new pseudo-terminal, for stdin and stdout together; wsgate's side (the master) is
        /// in `terminal`, and `standardInput` and `standardOutput` stay nil.
        ///
        /// For programs that block-buffer stdout on a pipe (C stdio, Python, grep, awk): on a
        /// terminal they write each line at once. The terminal is raw (bytes pass unchanged
        /// both ways: no echo, no line editing, no signal characters, "\n" stays "\n") and
        /// 80x24. The child gets a session of its own with the terminal as its controlling
        /// terminal, so that hanging it up (closing `terminal`) sends it SIGHUP.
        ///
        /// Only for stdin and stdout both: `spawn` refuses it for one of them alone or for
        /// stderr (EINVAL). stderr stays apart, a pipe say, so diagnostics do not mix with output.
        case terminal

        fileprivate var isTerminal: Bool {
            if case .terminal = self { true } else { false }
        }
    }

    /// The child's process id, which is also its process group id.
    public let pid: pid_t
    /// Readable once the child has exited. The corresponding C function is `pidfd_open(2)`.
    public let pidfd: FileDescriptor
    /// wsgate's (write) end of the child's stdin, when spawned with `.pipe`.
    public let standardInput: Pipe.End?
    /// wsgate's (read) end of the child's stdout, when spawned with `.pipe`.
    public let standardOutput: Pipe.End?
    /// wsgate's (read) end of the child's stderr, when spawned with `.pipe`.
    public let standardError: Pipe.End?
    /// wsgate's side of the child's terminal (the pseudo-terminal master), when spawned with
    /// `.terminal`: non-blocking and close-on-exec. Write the child's input to it and read its
    /// output from it. It is one descriptor for both directions: register it with a loop once,
    /// for the union of the interests.
    ///
    /// - Reading: once the program and everything that inherited its terminal have exited and
    ///   the remaining output has been read, `read` returns `.processed(0)`, as a pipe does
    ///   (the kernel says EIO; see `Pipe.End.read`). Writes after that are dropped or stay
    ///   `.wouldBlock`, never an error.
    /// - Closing it hangs the terminal up: the kernel sends SIGHUP (and SIGCONT) to the child,
    ///   the session leader, and its reads and writes on the terminal fail from then on. There
    ///   is no half-close as with a pipe's stdin: output that was not read yet is lost.
    /// - When the child exits, the kernel sends SIGHUP to the terminal's foreground process
    ///   group, which is the child's own: background jobs a shell left in it end too, unlike
    ///   on pipes.
    public let terminal: Pipe.End?
    /// The cgroup the child was started in (`spawn(controlGroup:)`); its owner removes it.
    public let controlGroup: ControlGroup?
    /// Set once the child has been reaped.
    public private(set) var exitStatus: ExitStatus?
    /// Whether `close()` has run.
    public private(set) var isClosed = false

    private weak var loop: EventLoop?
    private var registration: Registration?

    private init(
        pid: pid_t,
        pidfd: FileDescriptor,
        standardInput: Pipe.End?,
        standardOutput: Pipe.End?,
        standardError: Pipe.End?,
        terminal: Pipe.End?,
        controlGroup: ControlGroup?
    ) {
        self.pid = pid
        self.pidfd = pidfd
        self.standardInput = standardInput
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.terminal = terminal
        self.controlGroup = controlGroup
    }

    deinit {
        assert(self.isClosed, "ChildProcess \(self.pid) was never closed")
    }

    /// Starts `executable` with `arguments` (argv[0] is `executable` as given).
    ///
    /// - Parameters:
    ///   - executable: a path, or a bare name looked up in wsgate's own PATH.
    ///   - arguments: argv[1...].
    ///   - environment: the whole environment of the child, or nil for wsgate's own.
    ///   - workingDirectory: the directory to start in, or nil for wsgate's.
    /// - Throws: `SystemError` naming the step that failed: "execve" (ENOENT, EACCES, ENOEXEC),
    ///   "chdir", "dup2", "pipe2", "open", "clone"; for a terminal also "posix_openpt" and the
    ///   other steps of opening one, "setsid" and "ioctl(TIOCSCTTY)"; "spawn" with EINVAL when
    ///   `.terminal` is not given for exactly stdin and stdout; "mkdir" or "open" for
    ///   `controlGroup`, "cgroup" when the child could not move itself into it. Nothing is left
    ///   open then.
    ///   - controlGroup: a cgroup v2 directory, created if missing, that the child joins before it
    ///     execs (so do all its descendants); the caller removes it (`ControlGroup.remove`).
    ///
    /// The corresponding C functions are `clone(2)`, `prctl(2)` and `execve(2)`, through the shim.
    public static func spawn(
        executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        standardInput: StandardIO = .inherit,
        standardOutput: StandardIO = .inherit,
        standardError: StandardIO = .inherit,
        controlGroup: ControlGroup? = nil
    ) throws(SystemError) -> ChildProcess {
        // A terminal is one descriptor for both directions, so it serves stdin and stdout
        // together or not at all. Checked before anything is opened.
        let usesTerminal: Bool
        switch (standardInput.isTerminal, standardOutput.isTerminal, standardError.isTerminal) {
        case (false, false, false): usesTerminal = false
        case (true, true, false): usesTerminal = true
        default: throw SystemError(call: "spawn", errno: .invalidArgument)
        }
        guard let path = ChildProcess.findExecutable(executable) else {
            throw SystemError(call: "execve", errno: .noSuchFileOrDirectory)
        }

        // Descriptors that only the child needs; closed here whatever happens.
        var childEnds: [FileDescriptor] = []
        var parentEnds: [Pipe.End?] = [nil, nil, nil]
        var terminal: Pipe.End?
        defer {
            for fd in childEnds {
                try? fd.close()
            }
        }
        var stdio: [CInt] = [-1, -1, -1]
        do throws(SystemError) {
            if usesTerminal {
                let pair = try PseudoTerminal.open()
                childEnds.append(pair.slave)
                terminal = pair.master
                stdio[0] = pair.slave.rawValue
                stdio[1] = pair.slave.rawValue
            }
            for (index, io) in [standardInput, standardOutput, standardError].enumerated() {
                switch io {
                case .inherit, .terminal:
                    break
                case .descriptor(let fd):
                    stdio[index] = fd.rawValue
                case .discard:
                    let raw = try systemCall("open") { open("/dev/null", O_RDWR | O_CLOEXEC) }
                    childEnds.append(FileDescriptor(rawValue: raw))
                    stdio[index] = raw
                case .pipe:
                    let pipe = try Pipe(nonBlocking: false)
                    let (mine, theirs) = index == 0 ? (pipe.writeEnd, pipe.readEnd) : (pipe.readEnd, pipe.writeEnd)
                    childEnds.append(theirs.fd)
                    theirs.abandon()
                    parentEnds[index] = mine
                    try mine.fd.setNonBlocking()
                    stdio[index] = theirs.fd.rawValue
                }
            }

            var cgroupProcesses: CInt = -1
            if let controlGroup {
                try controlGroup.create()
                let fd = try controlGroup.openProcesses()
                childEnds.append(fd)
                cgroupProcesses = fd.rawValue
            }
            let environmentEntries = environment.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }
            let (pid, pidfd) = try CStringArray.with([executable] + arguments) { argv throws(SystemError) in
                try CStringArray.with(environmentEntries) { envp throws(SystemError) in
                    try ChildProcess.start(
                        path: path,
                        argv: argv,
                        envp: envp ?? UnsafePointer(environ),
                        workingDirectory: workingDirectory,
                        stdio: stdio,
                        controllingTerminal: usesTerminal,
                        cgroupProcesses: cgroupProcesses
                    )
                }
            }
            return ChildProcess(
                pid: pid,
                pidfd: pidfd,
                standardInput: parentEnds[0],
                standardOutput: parentEnds[1],
                standardError: parentEnds[2],
                terminal: terminal,
                controlGroup: controlGroup
            )
        } catch {
            for end in parentEnds {
                end?.close()
            }
            terminal?.close()
            controlGroup?.remove()  // empty again: a child that failed has exited
            throw error
        }
    }

    private static func start(
        path: String,
        argv: UnsafePointer<UnsafeMutablePointer<CChar>?>?,
        envp: UnsafePointer<UnsafeMutablePointer<CChar>?>?,
        workingDirectory: String?,
        stdio: [CInt],
        controllingTerminal: Bool,
        cgroupProcesses: CInt
    ) throws(SystemError) -> (pid_t, FileDescriptor) {
        var request = wsgate_spawn_request()
        request.argv = argv
        request.envp = envp
        request.stdio = (stdio[0], stdio[1], stdio[2])
        request.controlling_terminal = controllingTerminal ? 1 : 0
        request.cgroup_procs = cgroupProcesses
        var pidfd: CInt = -1
        // ETXTBSY from execve is retried a few times: a script written a moment ago stays "busy"
        // while another thread's spawned child still holds a copy of the writer's descriptor, which
        // lasts only until that child's own execve.
        for attempt in 1...4 {
            let pid = path.withCString { path in
                request.path = path
                guard let workingDirectory else { return wsgate_spawn(&request, &pidfd) }
                return workingDirectory.withCString { directory in
                    request.working_directory = directory
                    return wsgate_spawn(&request, &pidfd)
                }
            }
            if pid != -1 { return (pid, FileDescriptor(rawValue: pidfd)) }
            let error = Errno(rawValue: errno)
            let step = request.failed_step.map { String(cString: $0) } ?? "clone"
            guard error == .textFileBusy && step == "execve" && attempt < 4 else {
                throw SystemError(call: step, errno: error)
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    /// `name` if it contains a slash, else the first executable match in wsgate's PATH.
    /// The corresponding C function is `access(2)`.
    public static func findExecutable(_ name: String) -> String? {
        if name.contains("/") {
            return name
        }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            if access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// Calls `action` on the loop thread once the child has exited and been reaped.
    ///
    /// The loop holds this object until then, so dropping every other reference cannot leave
    /// a zombie. Call `close()` afterwards (from `action` is fine).
    /// - Throws: `SystemError` from registering the pidfd.
    public func onExit(in loop: EventLoop, _ action: @escaping (ExitStatus) -> Void) throws(SystemError) {
        precondition(!self.isClosed && self.registration == nil, "onExit: already watched or closed")
        if let status = self.exitStatus {
            loop.runSoon { action(status) }
            return
        }
        self.loop = loop
        self.registration = try loop.register(self.pidfd, interest: .readable, handler: ExitWatcher(process: self, action: action))
    }

    /// Reaps the child if it has exited, without blocking.
    /// - Returns: the exit status, or nil while it runs.
    ///
    /// The corresponding C function is `waitid(2)` with P_PIDFD and WNOHANG.
    public func tryWait() throws(SystemError) -> ExitStatus? {
        if let status = self.exitStatus {
            return status
        }
        try self.wait(options: WNOHANG)
        return self.exitStatus
    }

    /// Blocks until the child exits and reaps it. For command-line tools and tests, never
    /// on a loop thread.
    /// The corresponding C function is `waitid(2)` with P_PIDFD.
    public func waitForExit() throws(SystemError) -> ExitStatus {
        while self.exitStatus == nil {
            try self.wait(options: 0)
        }
        return self.exitStatus!
    }

    private func wait(options: CInt) throws(SystemError) {
        var code: CInt = 0
        var status: CInt = 0
        _ = try systemCall("waitid") { wsgate_waitid_pidfd(self.pidfd.rawValue, options, &code, &status) }
        switch code {
        case CInt(CLD_EXITED):
            self.exitStatus = .exited(status)
        case CInt(CLD_KILLED), CInt(CLD_DUMPED):
            self.exitStatus = .signaled(status)
        default:
            break
        }
    }

    /// Sends `signal` to the child itself (not its group). Race-free: it can never reach
    /// another process that reused the pid.
    /// - Throws: `SystemError` with ESRCH once the child has been reaped.
    ///
    /// The corresponding C function is `pidfd_send_signal(2)`.
    public func signal(_ signal: CInt) throws(SystemError) {
        _ = try systemCall("pidfd_send_signal") { wsgate_pidfd_send_signal(self.pidfd.rawValue, signal, 0) }
    }

    /// Sends `signal` to the child's whole process group: it and everything it started
    /// that did not leave the group.
    ///
    /// This still works after the leader has exited, as long as any member is alive (the
    /// kernel does not reuse a pid that is still a group id). Once the whole group is gone
    /// the id could in principle be reused; the termination policy stops signalling then.
    /// - Throws: `SystemError` with ESRCH when no process is left in the group.
    ///
    /// The corresponding C function is `kill(2)` with a negative pid.
    public func signalGroup(_ signal: CInt) throws(SystemError) {
        _ = try systemCall("kill") { kill(-self.pid, signal) }
    }

    /// Stops watching and closes the pidfd. Pipe ends and the terminal are owned separately:
    /// close them too.
    ///
    /// A child closed before it is reaped stays a zombie until wsgate exits; signal it and
    /// wait for `onExit` first.
    public func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.stopWatching()
        try? self.pidfd.close()
    }

    fileprivate func reaped(by watcher: ExitWatcher) {
        do throws(SystemError) {
            guard try self.tryWait() != nil else { return }
        } catch {
            // The pidfd stays readable whatever waitid says: returning here would wake the loop
            // for ever. The child is gone either way; report that its status is lost.
            self.exitStatus = .unknown(error.errno)
        }
        self.stopWatching()
        watcher.action(self.exitStatus!)
    }

    private func stopWatching() {
        if let registration = self.registration {
            self.loop?.deregister(registration)
            self.registration = nil
            self.loop = nil
        }
    }
}

@available(*, unavailable)
extension ChildProcess: Sendable {}

/// The pidfd's handler. It holds the process, so the process outlives every other
/// reference until it has been reaped.
private final class ExitWatcher: EventHandler {
    let process: ChildProcess
    let action: (ChildProcess.ExitStatus) -> Void

    init(process: ChildProcess, action: @escaping (ChildProcess.ExitStatus) -> Void) {
        self.process = process
        self.action = action
    }

    func handle(_ readiness: Readiness) {
        self.process.reaped(by: self)
    }
}

extension Pipe.End {
    /// Marks the end closed without closing it: its descriptor now belongs to someone else.
    func abandon() {
        self.markClosed()
    }
}
