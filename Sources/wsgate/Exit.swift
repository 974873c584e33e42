import Glibc
import Reactor
import WebSocket

func printError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}

/// The exit status for the server's close: 0 for a normal end (1000 "normal closure", 1001
/// "going away"), 1 for any other code, and for no close frame at all.
func exitStatus(forClose code: CloseCode?) -> Int32 {
    code == .normalClosure || code == .goingAway ? 0 : 1
}

/// The shell's status for a process ended by `signal`: 128 + its number (130 for SIGINT).
func exitStatus(for signal: Signal) -> Int32 {
    128 + signal.rawValue
}

/// A program's exit status passed on as ours: its exit code, or 128 + the signal that killed it.
func exitStatus(of status: ChildProcess.ExitStatus) -> Int32 {
    switch status {
    case .exited(let code): code
    case .signaled(let signal): 128 + signal
    case .unknown: 1
    }
}

/// What the client says when the TCP connection ends without the server's close frame
/// (RFC 6455 §7.1.5: the close code is then 1006, which no frame may carry).
let droppedConnectionMessage = "connection closed without a close frame (1006)"
