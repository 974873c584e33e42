import Client
import Foundation
import Gateway
import WebSocket

/// Helpers shared by the program-handler tests: the repo's `handlers/*`, throwaway scripts, and
/// what /proc says about processes.

/// The repository root, found from this file's path (Tests/GatewayTests/ProgramSupport.swift).
let repositoryRoot: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}()

/// One of the repo's example programs, `handlers/NAME`, with its arguments.
func handlerProgram(_ name: String, _ arguments: String...) -> ProgramCommand {
    ProgramCommand(executable: repositoryRoot + "/handlers/" + name, arguments: arguments)
}

/// A line-mode route to a program.
func programRoute(_ path: String, _ command: ProgramCommand, binary: Bool = false) -> Route {
    Route(path, .program(command, mode: binary ? .binary : .lines))
}

/// A temporary directory of shell scripts written by a test; removed when it goes away.
final class ScratchScripts: @unchecked Sendable {
    let path: String

    init() throws {
        let path = NSTemporaryDirectory() + "wsgate-program-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }

    /// Writes `#!/bin/sh` and `body` to NAME (relative to the directory), executable unless told
    /// otherwise, and returns its absolute path.
    @discardableResult
    func script(_ name: String, _ body: String, executable: Bool = true) throws -> String {
        let file = self.path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try ("#!/bin/sh\n" + body + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: file)
        return file
    }

    /// A file path in the directory (for a script to write to).
    func file(_ name: String) -> String { self.path + "/" + name }
}

// MARK: Processes, from /proc

/// State letter and parent of a process from /proc/PID/stat, or nil when there is no such process.
func processStat(_ pid: Int32) -> (state: Character, parent: Int32)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    // After "pid (comm) ": state, ppid, ... (comm may contain spaces and parentheses).
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
    return (state, parent)
}

/// Whether `pid` is running (present and not a zombie). A grandchild killed after its parent died
/// is reparented to init, whose reaping this test cannot control, so a zombie counts as gone.
func processIsAlive(_ pid: Int32) -> Bool {
    guard let stat = processStat(pid) else { return false }
    return stat.state != "Z"
}

/// Whether /proc/PID is gone: the process exited *and* was reaped.
func processIsReaped(_ pid: Int32) -> Bool {
    processStat(pid) == nil
}

/// Every process whose parent is `parent`, with its state.
func childProcesses(of parent: Int32) -> [(pid: Int32, state: Character)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard let pid = Int32(entry), let stat = processStat(pid), stat.parent == parent else { return nil }
        return (pid, stat.state)
    }
}

/// How many descriptors `pid` has open.
func openDescriptorCount(of pid: Int32) -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
}

/// Resident memory of `pid` in bytes (VmRSS), or nil.
func residentBytes(of pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return nil }
    return kilobytes * 1024
}

// MARK: Sessions

/// What a program session delivered: its text messages (binary ones as hex) and the close.
struct ProgramTranscript {
    var messages: [String] = []
    var binary: [UInt8] = []
    var close: (code: CloseCode?, reason: String)?
}

/// Reads messages until the server's close frame (or EOF), bounded by `timeout` per wait.
func readUntilClose(_ client: BlockingClient, timeout: Duration = .seconds(5)) throws -> ProgramTranscript {
    var transcript = ProgramTranscript()
    while let event = try client.nextEvent(timeout: timeout) {
        switch event {
        case .text(let text): transcript.messages.append(text)
        case .binary(let bytes): transcript.binary += bytes
        case .close(let code, let reason):
            transcript.close = (code, reason)
            return transcript
        case .ping, .pong: continue
        }
    }
    return transcript
}

/// The value of `field=` in a key=value log line (quotes removed), or nil.
func logField(_ field: String, in line: String) -> String? {
    guard let range = line.range(of: " \(field)=") else { return nil }
    let rest = line[range.upperBound...]
    if rest.hasPrefix("\"") {
        let body = rest.dropFirst()
        return String(body.prefix { $0 != "\"" })
    }
    return String(rest.prefix { $0 != " " && $0 != "\n" })
}

/// The log lines of `event` (for example "process.start") in the server's log.
func logLines(_ server: TestServer, event: String) -> [String] {
    server.log.filter { $0.contains("event=\(event) ") || $0.hasSuffix("event=\(event)\n") }
}

/// Waits (bounded) for a log line of `event` that contains `text`, and returns it.
func waitForLogLine(_ server: TestServer, event: String, containing text: String = "", timeout: Double = 5) -> String? {
    var found: String?
    _ = eventually(timeout: timeout) {
        found = logLines(server, event: event).first { text.isEmpty || $0.contains(text) }
        return found != nil
    }
    return found
}

/// Serves `program` at /p, connects, and reads the pid the program prints first (`echo $$`).
func startProgramReportingPid(_ program: String) throws -> (TestServer, BlockingClient, Int32) {
    let server = try TestServer(routes: [programRoute("/p", ProgramCommand(executable: program))])
    let client = try server.connect("/p")
    guard case .text(let text) = try client.receiveMessage(), let pid = Int32(text) else {
        throw TestFailure("no pid from the program")
    }
    return (server, client, pid)
}
