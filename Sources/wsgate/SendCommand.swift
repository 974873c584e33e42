import Client
import Glibc
import WebSocket

/// `wsgate send URL MESSAGE... [--wait DUR] [-n N] [--binary]`: send, print replies, close.
func runSend(_ arguments: [String]) -> Int32 {
    let commandLine = sendCommandLine
    return withCommandLine(commandLine, arguments) { parsed throws(OptionParser.Failure) in
        let url = try commandLine.url(parsed)
        let options = try BlockingClient.Options(parsed)
        var expected: Int?
        if let text = parsed.value("--replies") {
            expected = try OptionParser.integer(text, flag: "--replies", range: 0...Int.max)
        }
        var wait: Duration = expected == nil ? .seconds(1) : .seconds(5)
        if let text = parsed.value("--wait") { wait = try OptionParser.duration(text, flag: "--wait") }
        guard let client = connect(url, options, command: "send") else { return 1 }
        let messages = parsed.positional.dropFirst()
        return exchange(client, messages.map { Array($0.utf8) }, binary: parsed.has("--binary"),
                        expected: expected, wait: wait)
    }
}

/// Sends the messages, prints replies until `expected` arrived or `wait` has passed since they
/// were sent, then closes: our close frame, what still arrives skipped, the server's close frame
/// awaited within the options' timeout. Only `expected` replies are ever printed, and the socket is
/// read within `BlockingClient`'s bound, so a server that floods costs nothing but the wait.
private func exchange(_ client: BlockingClient, _ messages: [[UInt8]], binary: Bool, expected: Int?,
                      wait: Duration) -> Int32 {
    var replies = 0
    do {
        for message in messages {
            if binary { try client.send(binary: message) } else { try client.send(text: String(decoding: message, as: UTF8.self)) }
        }
        let deadline = ContinuousClock.now + wait
        while expected.map({ replies < $0 }) ?? true, ContinuousClock.now < deadline {
            let event: Connection.Event?
            do {
                event = try client.nextEvent(timeout: deadline - .now)
            } catch .timeout {
                break
            }
            guard let event else {
                printError("wsgate send: \(droppedConnectionMessage)\n")
                return 1
            }
            switch event {
            case .text(let text):
                print(text)
                replies += 1
            case .binary(let bytes):
                print(describeBinary(bytes))
                replies += 1
            case .close(let code, let reason):
                printError("closed by server: \(code.map { "\($0)" } ?? "1005 (no status)") \(reason)\n")
                try? client.waitForEOF(timeout: .seconds(2))
                if let expected, replies < expected {
                    printError("wsgate send: \(replies) of \(expected) replies before the server closed\n")
                    return 1
                }
                return exitStatus(forClose: code)
            case .ping, .pong:
                continue
            }
        }
        try client.close()
        do {
            guard try client.waitForClose() != nil else {
                printError("wsgate send: \(droppedConnectionMessage)\n")
                return 1
            }
        } catch .timeout {
            printError("wsgate send: no close frame from the server within \(client.options.timeout): "
                       + "\(droppedConnectionMessage)\n")
            return 1
        }
        try? client.waitForEOF(timeout: .seconds(2))
        if let expected, replies < expected {
            printError("wsgate send: \(replies) of \(expected) replies within \(wait)\n")
            return 1
        }
        return 0
    } catch {
        printError("wsgate send: \(error)\n")
        return 1
    }
}

/// A binary message as one printable line: its size and up to 32 bytes in hex.
func describeBinary(_ bytes: [UInt8]) -> String {
    let hex = bytes.prefix(32).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
    return "[binary \(bytes.count) bytes]\(bytes.isEmpty ? "" : " ")\(hex)\(bytes.count > 32 ? " ..." : "")"
}

let sendCommandLine = ClientCommandLine(
    command: "send", synopsis: "URL [MESSAGE...] [flags]",
    description: """
        Sends each MESSAGE, then prints the replies, one per line, until -n replies have arrived
        or --wait has passed since the messages were sent: --wait bounds the whole wait, it is
        not restarted by each reply. Then it sends a close frame (1000), skips whatever still
        arrives, and waits for the server's close frame (at most --timeout). No more than -n
        replies are printed, and the socket is read within a bounded buffer, so a server that
        never stops sending costs nothing but the wait. A message starting with '-' goes after '--'.

        Exit status: 0 on success; 1 when the connection failed, the server closed with an error
        code or without a close frame (1006), or fewer than -n replies came within --wait; 2 for
        bad flags.
        """,
    flags: [
        ClientFlag("--wait", value: "DUR", help: """
            the whole wait for replies after sending (default 1s; 5s with -n,
            which ends it sooner)
            """),
        ClientFlag("-n", "--replies", value: "N", help: "stop after N replies; fewer within --wait is a failure"),
        ClientFlag("--binary", help: "send the messages as binary"),
    ] + ClientFlag.connection + ClientFlag.tls + [ClientFlag.help])
