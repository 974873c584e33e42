import Client
import Gateway
import Glibc
import Reactor
import WebSocket

/// `wsgate client URL`: stdin lines become messages, messages become stdout lines; with
/// `--exec COMMAND`, a local program's stdout and stdin take the terminal's place.
func runClient(_ arguments: [String]) -> Int32 {
    var flags = ClientFlags()
    var binary = false
    var raw = false
    var exec: ProgramCommand?
    var linger: Duration = .milliseconds(500)
    do {
        try flags.parse(arguments, command: "client", usage: clientUsage) { argument, value throws(OptionParser.Failure) in
            switch argument {
            case "--binary": binary = true
            case "--raw": raw = true
            case "--linger": linger = try OptionParser.duration(try value(), flag: argument)
            case "--exec":
                let text = try value()
                do {
                    exec = try checkedProgram(try ProgramCommand(parsing: text))
                } catch let error as OptionParser.Failure {
                    throw error
                } catch {
                    throw OptionParser.Failure(description: "--exec: \(error)")
                }
            default: return false
            }
            return true
        }
        guard flags.positional.isEmpty else {
            throw OptionParser.Failure(description: "client: unexpected argument '\(flags.positional[0])'")
        }
    } catch let error as OptionParser.Failure {
        if error.description == ClientFlags.helpRequested { return 0 }
        printError("wsgate: \(error)\n")
        return 2
    } catch {
        printError("wsgate: \(error)\n")
        return 2
    }
    guard let client = flags.connect(command: "client") else { return 1 }
    if let exec {
        return runBridge(client, exec, binary: binary, linger: linger)
    }
    if isatty(STDIN_FILENO) == 1 {
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
    let output = MessagePrinter(raw: raw, prefix: isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1 ? "< " : "")
    var pump = ClientPump(client: client, input: input, binary: binary, linger: Linger(quietPeriod: linger))
    return pump.run { event in output.print(event) }.exitStatus
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
