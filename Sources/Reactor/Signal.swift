import CGlibc
import Glibc

/// A signal number, typed, so nothing above the reactor needs Glibc's constants.
public struct Signal: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: CInt

    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    public static let interrupt = Signal(rawValue: SIGINT)
    public static let terminate = Signal(rawValue: SIGTERM)
    public static let kill = Signal(rawValue: SIGKILL)
    public static let hangup = Signal(rawValue: SIGHUP)
    public static let user1 = Signal(rawValue: SIGUSR1)

    /// "SIGTERM".
    public var description: String { signalName(self.rawValue) }
}

extension EventLoop {
    /// Runs `action` on the loop thread whenever `signal` arrives; see `onSignal(_:_:)` for the rules.
    public func onSignal(_ signal: Signal, _ action: @escaping () -> Void) throws(SystemError) {
        try self.onSignal(signal.rawValue, action)
    }
}

extension ChildProcess {
    /// Sends `signal` to the child's whole process group.
    /// The corresponding C function is `kill(2)` with a negative pid.
    public func signalGroup(_ signal: Signal) throws(SystemError) {
        try self.signalGroup(signal.rawValue)
    }

    /// Whether anything is left in the child's process group. A member that has exited but is not
    /// reaped yet (the child itself before `onExit` runs) still counts.
    /// The corresponding C function is `kill(2)` with signal 0.
    public var isGroupAlive: Bool {
        Glibc.kill(-self.pid, 0) == 0
    }
}
