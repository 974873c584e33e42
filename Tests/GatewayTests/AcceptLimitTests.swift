import Client
import Foundation
import Testing
import WebSocket

/// The issue: "an accept loop that survives EMFILE/ENFILE without spinning at 100% CPU".
@Suite("Accepting at the descriptor limit")
struct AcceptLimitTests {
    /// wsgate under `ulimit -n 32` with more connections waiting than it has descriptors: it logs
    /// the pause, backs off instead of spinning, and serves again once descriptors are free.
    @Test func serverBacksOffAtDescriptorLimitAndRecovers() throws {
        let wsgate = try WsgateProcess(
            ["--address", "127.0.0.1", "--port", "0", "--route", "/echo=echo", "--loglevel", "info",
             "--handshake-timeout", "60s", "--max-connections", "1000"],
            fileLimit: 32)
        let port = try wsgate.listeningPort()
        var idle: [RawClient] = []
        for _ in 0..<48 { idle.append(try RawClient(port: port)) }  // more than 32 descriptors
        _ = try wsgate.waitForLine(containing: "event=accept.paused")
        #expect(wsgate.stderr.contains("EMFILE"), "stderr: \(wsgate.stderr)")

        // Saturated for a second and a half: a spinning accept loop would burn all of it.
        let pid = wsgate.process.processIdentifier
        let before = try cpuTicks(of: pid)
        usleep(1_500_000)
        let spent = try cpuTicks(of: pid) - before
        #expect(spent < 40, "wsgate used \(spent) ticks of CPU in 1.5 s while out of descriptors")
        // One line per episode, not one per 100 ms retry.
        let pauses = wsgate.stderr.components(separatedBy: "event=accept.paused").count - 1
        #expect(pauses == 1, "stderr: \(wsgate.stderr)")

        idle.removeAll()  // closes every socket: wsgate's sessions see EOF and free their descriptors
        #expect(eventually(timeout: 5) {
            guard let client = try? BlockingClient(url: "ws://127.0.0.1:\(port)/echo") else { return false }
            try? client.send(text: "back")
            return (try? client.receiveMessage(timeout: .seconds(2))) == .text("back")
        })
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }
}

@Suite("Descriptor limits")
struct DescriptorLimitTests {
    /// With no --max-connections, the bound comes from the descriptor limit, so clients get 503
    /// before wsgate runs out of descriptors (and never has to pause accepting).
    @Test func serverAnswers503BeforeRunningOutOfDescriptors() throws {
        let wsgate = try WsgateProcess(
            ["--address", "127.0.0.1", "--port", "0", "--route", "/echo=echo", "--loglevel", "info"],
            fileLimit: 64)
        let port = try wsgate.listeningPort()
        #expect(wsgate.stderr.contains("event=server.limits open_files=64 max_connections=32"), "stderr: \(wsgate.stderr)")
        var idle: [RawClient] = []
        for _ in 0..<40 { idle.append(try RawClient(port: port)) }
        _ = try wsgate.waitForLine(containing: "event=server.overloaded")
        #expect(!wsgate.stderr.contains("accept.paused"), "stderr: \(wsgate.stderr)")
        idle.removeAll()
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }

    /// The soft limit is raised to the hard one at start, as Go's runtime does for websocketd.
    @Test func serverRaisesSoftDescriptorLimitToHardLimit() throws {
        let wsgate = try WsgateProcess(
            ["-c", "ulimit -S -n 100 && ulimit -H -n 2000 && exec \"$0\" \"$@\"", try WsgateProcess.binary().path,
             "--address", "127.0.0.1", "--port", "0", "--route", "/echo=echo", "--loglevel", "info"],
            shell: true)
        _ = try wsgate.listeningPort()
        #expect(wsgate.stderr.contains("event=server.limits open_files=2000 "), "stderr: \(wsgate.stderr)")
        wsgate.signal(SIGTERM)
        #expect(wsgate.waitForExit() == 0)
    }
}

/// utime + stime of a process, in clock ticks (1/100 s on Linux), from /proc/PID/stat.
func cpuTicks(of pid: Int32) throws -> Int {
    let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields = text[text.index(after: text.lastIndex(of: ")")!)...].split(separator: " ")
    return Int(fields[11])! + Int(fields[12])!
}
