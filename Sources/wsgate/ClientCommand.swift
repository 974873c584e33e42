import Client
import Gateway
import Glibc
import Reactor
import WebSocket

/// `wsgate client URL`: stdin lines become messages, messages become stdout lines; with
/// `--exec COMMAND`, a local program's stdout and stdin take the terminal's place.
func runClient(_ arguments: [String]) -> Int32 {
    let commandLine = clientCommandLine
    return withCommandLine(commandLine, arguments) { parsed throws(OptionParser.Failure) in
        let url = try commandLine.url(parsed)
        guard parsed.positional.count == 1 else {
            throw OptionParser.Failure(description: "client: unexpected argument '\(parsed.positional[1])'")
        }
        let options = try BlockingClient.Options(parsed)
        var linger = Duration.milliseconds(500)
        if let text = parsed.value("--linger") { linger = try OptionParser.duration(text, flag: "--linger") }
        let binary = parsed.has("--binary")
        var exec: ProgramCommand?
        if let text = parsed.value("--exec") {
            do {
                exec = try checkedProgram(try ProgramCommand(parsing: text))
            } catch let error as OptionParser.Failure {
                throw error
            } catch {
                throw OptionParser.Failure(description: "--exec: \(error)")
            }
        }

        guard let client = connect(url, options, command: "client") else { return 1 }
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
        let interactive = isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1
        let output = MessagePrinter(raw: parsed.has("--raw"), prefix: interactive ? "< " : "")
        var pump = ClientPump(client: client, input: input, sink: output, binary: binary, linger: linger)
        return pump.run().exitStatus
    }
}

/// Writes received messages to stdout: text as lines, binary as a hex summary or raw bytes.
///
/// The writes block, and that is the backpressure: while whoever reads stdout does not keep up,
/// the client waits in `write(2)` and does not read the socket. stdout stays blocking for the
/// reason stdin does: a terminal's file description is the shell's too.
final class MessagePrinter: MessageSink {
    let raw: Bool
    let prefix: String

    init(raw: Bool, prefix: String) {
        self.raw = raw
        self.prefix = prefix
    }

    var isBacklogged: Bool { false }

    func deliver(_ event: Connection.Event) -> Bool {
        switch event {
        case .text(let text): self.write(Array((self.prefix + text + "\n").utf8))
        case .binary(let bytes): self.write(self.raw ? bytes : Array((self.prefix + describeBinary(bytes) + "\n").utf8))
        default: true
        }
    }

    /// Writes all of `bytes`; false once stdout is gone (EPIPE: the reader exited).
    private func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}

let clientCommandLine = ClientCommandLine(
    command: "client", synopsis: "URL [flags]",
    description: """
        An interactive client: each line on stdin is sent as a text message, and each message
        received is printed on its own line (binary ones as '[binary N bytes] hex...' unless --raw).

        When input ends (Ctrl-D, or the end of a pipe or file), the client goes on printing what
        arrives for --linger, counted from the end of input and never extended by what arrives;
        then it sends a close frame (1000) and waits for the server's (at most --timeout), printing
        nothing that comes after its own. So `client </dev/null` and `echo x | client` both end at
        most --linger after their input does, even against a server that never stops sending; the
        server may close first, and then the client ends at once. Reading is bounded: while stdout
        (or the program's stdin) does not take what arrives, the socket is not read.

        Ctrl-C (SIGINT) or SIGTERM sends a close frame with 1001 (going away) and waits for the
        server's answer (at most --timeout); a second signal ends the client at once.

        Exit status: 0 after a normal close (the server's 1000 or 1001, or its answer to ours);
        1 after an error close, a connection that ended without a close frame (1006) or a failed
        connection; 130 after SIGINT, 143 after SIGTERM; 2 for bad flags. With --exec, a program
        that fails gives its own status (128+N when signal N killed it).
        """,
    flags: [
        ClientFlag("--exec", value: "COMMAND", help: """
            bridge a local program instead of the terminal: its stdout lines become
            messages, messages become lines on its stdin (shell-like quoting). When it
            closes stdout, the client lingers and closes; when the server closes, its
            stdin is closed and it gets 2 s to exit before SIGTERM, then SIGKILL
            """),
        ClientFlag("--linger", value: "DUR", help: """
            after end of input, go on receiving for DUR in all, then close
            (default 500ms; 0 closes at once)
            """),
        ClientFlag("--binary", help: "send input as binary messages, one per read"),
        ClientFlag("--raw", help: "write received binary messages to stdout as they are"),
    ] + ClientFlag.connection + ClientFlag.tls + [ClientFlag.help])
