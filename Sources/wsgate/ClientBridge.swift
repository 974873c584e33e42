import Client
import Gateway
import Glibc
import Reactor
import WebSocket

/// `client URL --exec COMMAND`: the stdio contract turned around, a local program talking to a
/// remote endpoint. Its stdout lines (or chunks, with --binary) become messages; messages become
/// lines on its stdin. When it closes stdout, the connection closes normally; when the server
/// closes, its stdin is closed and it gets 2 s to exit before SIGTERM, then SIGKILL.
/// Exit status: 1 when the program failed, else the close's (0 normal, 1 error).
func runBridge(_ client: BlockingClient, _ command: ProgramCommand, binary: Bool, linger: Duration) -> Int32 {
    let child: ChildProcess
    let stdout: InputReader
    let stdin: OutputWriter
    do {
        child = try ChildProcess.spawn(executable: command.executable, arguments: command.arguments,
                                       standardInput: .pipe, standardOutput: .pipe, standardError: .inherit)
        stdout = try InputReader(fd: child.standardOutput!.fd, mode: binary ? .chunks : .lines, loop: client.eventLoop)
        stdin = try OutputWriter(end: child.standardInput!, loop: client.eventLoop)
    } catch {
        printError("wsgate client: cannot start \(command.executable): \(error)\n")
        return 1
    }
    var pump = ClientPump(client: client, input: stdout, binary: binary, linger: Linger(quietPeriod: linger))
    let ending = pump.run { event in
        switch event {
        case .text(let text): stdin.write(Array(text.utf8) + (binary ? [] : [0x0A]))
        case .binary(let bytes): stdin.write(bytes + (binary ? [] : [0x0A]))
        default: break
        }
    }
    stdin.close()
    let status = finish(child)
    child.standardOutput?.close()
    return status.map { $0.isSuccess ? ending.exitStatus : 1 } ?? ending.exitStatus
}

/// Waits for the bridged program: 2 s after its stdin closed, then SIGTERM, then SIGKILL.
private func finish(_ child: ChildProcess) -> ChildProcess.ExitStatus? {
    defer { child.close() }
    for (grace, signal) in [(2000, Signal.terminate), (1000, Signal.kill)] {
        for _ in 0..<(grace / 10) {
            if let status = try? child.tryWait() { return status }
            usleep(10_000)
        }
        try? child.signalGroup(signal)
    }
    return try? child.waitForExit()
}
