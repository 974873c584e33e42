import Client
import Glibc
import WebSocket

/// `wsgate send URL MESSAGE... [--wait DUR] [-n N] [--binary]`: send, print replies, close.
func runSend(_ arguments: [String]) -> Int32 {
    var flags = ClientFlags()
    var wait: Duration = .seconds(1)
    var expected: Int?
    var binary = false
    do {
        try flags.parse(arguments, command: "send", usage: sendUsage) { argument, value throws(OptionParser.Failure) in
            switch argument {
            case "--wait": wait = try OptionParser.duration(try value(), flag: argument)
            case "-n", "--replies": expected = try OptionParser.integer(try value(), flag: argument, range: 0...Int.max)
            case "--binary": binary = true
            default: return false
            }
            return true
        }
    } catch {
        if error.description == ClientFlags.helpRequested { return 0 }
        printError("wsgate: \(error)\n")
        return 2
    }
    guard let client = flags.connect(command: "send") else { return 1 }
    do {
        for message in flags.positional {
            if binary { try client.send(binary: Array(message.utf8)) } else { try client.send(text: message) }
        }
        var replies = 0
        var deadline = ContinuousClock.now + wait
        while expected.map({ replies < $0 }) ?? true {
            let remaining = deadline - .now
            guard remaining > .zero else { break }
            guard let event = try? client.nextEvent(timeout: remaining) else { break }
            switch event {
            case .text(let text):
                print(text)
                replies += 1
                deadline = .now + wait
            case .binary(let bytes):
                print(describeBinary(bytes))
                replies += 1
                deadline = .now + wait
            case .close(let code, let reason):
                printError("closed by server: \(code.map { "\($0)" } ?? "no code") \(reason)\n")
                return exitStatus(forClose: code?.rawValue)
            case .ping, .pong:
                continue
            }
        }
        try client.close()
        _ = try? client.waitForClose(timeout: .seconds(2))
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

let sendUsage = """
    usage: wsgate send URL MESSAGE... [flags]

    Sends each MESSAGE, prints every reply on its own line until --wait passes without one
    (or -n replies arrived), then closes normally. Exit status 0 on success, 1 when the
    connection failed, the server closed with an error code, or fewer than -n replies came.

      --wait DUR            how long to wait for each next reply (default 1s)
      -n, --replies N       stop after N replies; fewer is a failure
      --binary              send the messages as binary
      -H, --header 'N: V'   an extra request header (repeatable)
      --origin ORIGIN       the Origin header
      --subprotocol NAME    offer a subprotocol (repeatable)
      --timeout DUR         connect and handshake timeout (default 5s)

    """
