import CGlibc
import Glibc

extension EventLoop {
    /// Runs `action` on the loop thread each time `signal` arrives.
    ///
    /// The signal is blocked in the calling thread and read from a signalfd. Block it before
    /// any other thread starts (call this early in `main`), because a process-directed signal
    /// goes to any thread that does not block it, and there its default action runs. The
    /// signal stays blocked after the loop closes: unblocking with one pending would run that
    /// default action. Children spawned by `ChildProcess` start with an empty mask.
    /// A second call for the same signal replaces its action.
    /// - Throws: `SystemError` from `pthread_sigmask` or `signalfd`.
    ///
    /// The corresponding C functions are `pthread_sigmask(3)` and `signalfd(2)`.
    public func onSignal(_ signal: CInt, _ action: @escaping () -> Void) throws(SystemError) {
        precondition(!self.isClosed, "onSignal on a closed EventLoop")
        self.assertOnLoopThread()
        if self.signals == nil {
            let source = try SignalSource()
            do throws(SystemError) {
                source.registration = try self.register(source.fd, interest: .readable, handler: source)
                self.userRegistrations -= 1
            } catch {
                source.close()
                throw error
            }
            self.signals = source
        }
        try self.signals!.add(signal, action)
    }
}

/// Owns the loop's signalfd and maps signal numbers to actions.
final class SignalSource: EventHandler {
    let fd: FileDescriptor
    var registration: Registration?
    private var mask = sigset_t()
    private var actions: [CInt: () -> Void] = [:]

    /// The corresponding C function is `signalfd(2)`.
    init() throws(SystemError) {
        var empty = sigset_t()
        sigemptyset(&empty)
        let raw = try systemCall("signalfd") { signalfd(-1, &empty, CInt(SFD_NONBLOCK | SFD_CLOEXEC)) }
        self.fd = FileDescriptor(rawValue: raw)
        self.mask = empty
    }

    func add(_ signal: CInt, _ action: @escaping () -> Void) throws(SystemError) {
        var one = sigset_t()
        sigemptyset(&one)
        guard sigaddset(&one, signal) == 0 else {
            throw SystemError(call: "sigaddset", errno: .invalidArgument)
        }
        let result = pthread_sigmask(SIG_BLOCK, &one, nil)
        guard result == 0 else {
            throw SystemError(call: "pthread_sigmask", errno: Errno(rawValue: result))
        }
        sigaddset(&self.mask, signal)
        _ = try systemCall("signalfd") { signalfd(self.fd.rawValue, &self.mask, 0) }
        self.actions[signal] = action
    }

    func handle(_ readiness: Readiness) {
        var info = signalfd_siginfo()
        while true {
            let result = try? withUnsafeMutableBytes(of: &info) { (buffer) throws(SystemError) in
                try self.fd.read(into: buffer)
            }
            guard case .processed(let count) = result, count == MemoryLayout<signalfd_siginfo>.size else { return }
            self.actions[CInt(info.ssi_signo)]?()
        }
    }

    func close() {
        try? self.fd.close()
    }
}

/// The signal's name, "SIGTERM"; "SIG<number>" for one the C library does not name
/// (real-time signals).
/// The corresponding C function is `sigabbrev_np(3)`.
public func signalName(_ signal: CInt) -> String {
    guard let abbreviation = wsgate_signal_abbreviation(signal) else { return "SIG\(signal)" }
    return "SIG" + String(cString: abbreviation)
}
