import Client
import Gateway
import Glibc
import Reactor
import WebSocket

/// `client URL --exec COMMAND`: the stdio contract turned around, a local program talking to a
/// remote endpoint. Its stdout lines (or chunks, with --binary) become messages; messages become
/// lines on its stdin. When it closes stdout, the client lingers and closes normally; when the
/// server closes, its stdin is closed and it gets 2 s to exit before SIGTERM, then SIGKILL.
/// SIGINT or SIGTERM is passed on to the program's process group (it runs in a group of its own,
/// so a terminal's Ctrl-C does not reach it directly) while the client closes with 1001.
///
/// Exit status: the program's when it failed ("the program exited with status 3" on stderr, and
/// status 3), 128 + N after our signal N, else the close's (0 normal, 1 error).
func runBridge(_ client: BlockingClient, _ command: ProgramCommand, binary: Bool, linger: Duration) -> Int32 {
    let child: ChildProcess
    let stdout: InputReader
    let stdin: OutputWriter
    do {
        child = try ChildProcess.spawn(executable: command.executable, arguments: command.arguments,
                                       standardInput: .pipe, standardOutput: .pipe, standardError: .inherit)
        stdout = try InputReader(fd: child.standardOutput!.fd, mode: binary ? .chunks : .lines, loop: client.eventLoop)
        stdin = try OutputWriter(end: child.standardInput!, binary: binary, loop: client.eventLoop)
    } catch {
        printError("wsgate client: cannot start \(command.executable): \(error)\n")
        return 1
    }
    var pump = ClientPump(client: client, input: stdout, sink: stdin, binary: binary, linger: linger)
    pump.onSignal = { signal in try? child.signalGroup(signal) }
    let ending = pump.run()
    stdin.close()
    let status = finish(child)
    child.standardOutput?.close()
    if case .interrupted(let signal) = ending {
        return exitStatus(for: signal)
    }
    guard let status else {
        printError("wsgate client: the program could not be waited for\n")
        return 1
    }
    switch status {
    case .exited(0): return ending.exitStatus
    case .exited(let code): printError("wsgate client: the program exited with status \(code)\n")
    case .signaled(let signal): printError("wsgate client: the program was killed by \(signalName(signal))\n")
    case .unknown: printError("wsgate client: the program \(status)\n")
    }
    return exitStatus(of: status)
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
