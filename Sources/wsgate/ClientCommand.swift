import Client
import Gateway
import Glibc
import Reactor
import WebSocket

/// `wsgate client URL`: stdin lines become messages, messages become stdout lines.
func runClient(_ arguments: [String]) -> Int32 {
    var flags = ClientFlags()
    var binary = false
    var raw = false
    var exec: ProgramCommand?
    var linger: Duration = .milliseconds(500)
    var rest = arguments[...]
    do {
        while let argument = rest.popFirst() {
            switch argument {
            case "--binary": binary = true
            case "--raw": raw = true
            case "--linger":
                guard let value = rest.popFirst() else { throw OptionParser.Failure(description: "--linger needs a value") }
                linger = try OptionParser.duration(value, flag: "--linger")
            case "--exec":
                guard let value = rest.popFirst() else { throw OptionParser.Failure(description: "--exec needs a value") }
                do {
                    exec = try checkedProgram(try ProgramCommand(parsing: value))
                } catch let error as OptionParser.Failure {
                    throw error
                } catch {
                    throw OptionParser.Failure(description: "--exec: \(error)")
                }
            case "-h", "--help":
                print(clientUsage, terminator: "")
                return 0
            default:
                guard try flags.consume(argument, &rest) else {
                    throw OptionParser.Failure(description: "client: unknown flag \(argument) (see wsgate client --help)")
                }
            }
        }
        guard flags.url != nil else { throw OptionParser.Failure(description: "client: no URL (see wsgate client --help)") }
        guard flags.positional.isEmpty else {
            throw OptionParser.Failure(description: "client: unexpected argument '\(flags.positional[0])'")
        }
    } catch {
        printError("wsgate: \(error)\n")
        return 2
    }
    let client: BlockingClient
    do {
        client = try BlockingClient(url: flags.url!, options: flags.options)
    } catch {
        printError("wsgate client: \(error)\n")
        return 1
    }
    if let exec {
        return runBridge(client, exec, binary: binary, linger: linger)
    }
    let interactive = isatty(STDIN_FILENO) == 1
    if interactive {
        printError("connected to \(client.url)\(client.subprotocol.map { " (subprotocol \($0))" } ?? "") "
                   + "- type messages, Ctrl-D to close\n")
    }
    let input: InputReader
    do {
        input = try InputReader(fd: .standardInput, mode: binary ? .chunks : .lines, loop: client.eventLoop)
    } catch {
        printError("wsgate client: cannot watch stdin: \(error)\n")
        return 1
    }
    let output = MessagePrinter(raw: raw, prefix: isatty(STDOUT_FILENO) == 1 && interactive ? "< " : "")
    var closing = false
    var lingering = Linger(quietPeriod: linger)
    do {
        while true {
            if input.isPolledDirectly && !closing {
                input.readOnce()
            } else {
                try client.poll(timeout: lingering.timeout ?? .seconds(3600))
            }
            for event in client.takeEvents() {
                switch event {
                case .text, .binary:
                    lingering.messageArrived()
                    output.print(event)
                case .close(let code, let reason):
                    let status = code.map { "\($0)" } ?? "1005 (no status)"
                    printError("closed: \(status)\(reason.isEmpty ? "" : " \(reason)")\n")
                    try? client.waitForEOF(timeout: .seconds(2))
                    return closing ? 0 : exitStatus(forClose: code?.rawValue ?? 1005)
                case .ping, .pong:
                    break
                }
            }
            for item in input.take() where !closing {
                if binary { try client.send(binary: item) } else { try client.send(text: String(decoding: item, as: UTF8.self)) }
                lingering.messageSent()
            }
            if input.isAtEnd && !closing && lingering.isOver {
                closing = true
                try client.close()
            }
            if client.isDisconnected {
                printError("connection closed without a close frame\n")
                return 1
            }
        }
    } catch {
        printError("wsgate client: \(error)\n")
        return 1
    }
}

/// Writes received messages to stdout: text as lines, binary as a hex summary or raw bytes.
struct MessagePrinter {
    let raw: Bool
    let prefix: String

    func print(_ event: Connection.Event) {
        switch event {
        case .text(let text): self.write(Array((self.prefix + text + "\n").utf8))
        case .binary(let bytes): self.write(self.raw ? bytes : Array((self.prefix + describeBinary(bytes) + "\n").utf8))
        default: break
        }
    }

    private func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            offset += written
        }
    }
}

let clientUsage = """
    usage: wsgate client URL [flags]

    An interactive client: each line on stdin is sent as a text message, each message received
    is printed on its own line. End of input (Ctrl-D) closes normally. Binary messages print as
    '[binary N bytes] hex...' unless --raw. Exit status: 0 after a normal close (1000, 1001 or
    our own), 1 after an error close or a failed connection, 2 for bad flags.

      --exec COMMAND        bridge a local program instead of the terminal: its stdout lines become
                            messages, messages become lines on its stdin (shell-like quoting)
      --linger DUR          after end of input, keep reading until no message came for DUR, then
                            close (default 500ms; at most 10 s; 0 closes at once). Servers that
                            answer a close at once would otherwise drop the last replies
      --binary              send stdin as binary messages, one per read
      --raw                 write received binary messages to stdout as they are
      -H, --header 'N: V'   an extra request header (repeatable)
      --origin ORIGIN       the Origin header
      --subprotocol NAME    offer a subprotocol (repeatable)
      --timeout DUR         connect and handshake timeout (default 5s)

    """

/// `client URL --exec COMMAND`: the stdio contract turned around, a local program talking to a
/// remote endpoint. Its stdout lines (or chunks, with --binary) become messages; messages become
/// lines on its stdin. When it closes stdout, the connection closes normally; when the server
/// closes, its stdin is closed and it gets 2 s to exit before SIGTERM, then SIGKILL.
/// Exit status: the program's when it failed, else the close's (0 normal, 1 error).
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
    var closing = false
    var closeStatus: Int32 = 1
    var lingering = Linger(quietPeriod: linger)
    loop: do {
        while true {
            try client.poll(timeout: lingering.timeout ?? .seconds(3600))
            for event in client.takeEvents() {
                switch event {
                case .text(let text):
                    lingering.messageArrived()
                    stdin.write(Array(text.utf8) + (binary ? [] : [0x0A]))
                case .binary(let bytes):
                    lingering.messageArrived()
                    stdin.write(bytes + (binary ? [] : [0x0A]))
                case .close(let code, let reason):
                    if !closing {
                        printError("closed by server: \(code.map { "\($0)" } ?? "1005 (no status)") \(reason)\n")
                    }
                    closeStatus = closing ? 0 : exitStatus(forClose: code?.rawValue ?? 1005)
                    try? client.waitForEOF(timeout: .seconds(2))
                    break loop
                case .ping, .pong:
                    break
                }
            }
            for item in stdout.take() where !closing {
                if binary { try client.send(binary: item) } else { try client.send(text: String(decoding: item, as: UTF8.self)) }
                lingering.messageSent()
            }
            if stdout.isAtEnd && !closing && lingering.isOver {
                closing = true
                try client.close()
            }
            if client.isDisconnected {
                printError("connection closed without a close frame\n")
                break loop
            }
        }
    } catch {
        printError("wsgate client: \(error)\n")
    }
    stdin.close()
    let status = finish(child)
    child.standardOutput?.close()
    return status.map { $0.isSuccess ? closeStatus : 1 } ?? closeStatus
}

/// Waits for the bridged program: 2 s after its stdin closed, then SIGTERM, then SIGKILL.
private func finish(_ child: ChildProcess) -> ChildProcess.ExitStatus? {
    defer { child.close() }
    for (grace, signal) in [(2000, SIGTERM), (1000, SIGKILL)] {
        for _ in 0..<(grace / 10) {
            if let status = try? child.tryWait() { return status }
            usleep(10_000)
        }
        try? child.signalGroup(signal)
    }
    return try? child.waitForExit()
}

/// The wait between end of input and our close frame.
///
/// A server that answers a close at once (python-websockets does) sends nothing after it, so
/// closing right at end of input would lose the replies to the last lines. After the last message
/// sent, the client waits until none has arrived for `quietPeriod`, 10 s at most.
struct Linger {
    let quietPeriod: Duration
    private var quietUntil: ContinuousClock.Instant?
    private var hardDeadline: ContinuousClock.Instant?

    init(quietPeriod: Duration) {
        self.quietPeriod = quietPeriod
    }

    mutating func messageSent() {
        guard self.quietPeriod > .zero else { return }
        self.quietUntil = .now + self.quietPeriod
        self.hardDeadline = .now + .seconds(10)
    }

    mutating func messageArrived() {
        if self.quietUntil != nil { self.quietUntil = .now + self.quietPeriod }
    }

    /// Whether the client may close now.
    var isOver: Bool {
        guard let quietUntil = self.quietUntil, let hardDeadline = self.hardDeadline else { return true }
        let now = ContinuousClock.now
        return now >= quietUntil || now >= hardDeadline
    }

    /// How long `poll` may wait before the linger must be checked again; nil when not lingering.
    var timeout: Duration? {
        guard let quietUntil = self.quietUntil, let hardDeadline = self.hardDeadline, !self.isOver else { return nil }
        return min(quietUntil, hardDeadline) - .now
    }
}
