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
             "--handshake-timeout", "60s"],
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

/// utime + stime of a process, in clock ticks (1/100 s on Linux), from /proc/PID/stat.
func cpuTicks(of pid: Int32) throws -> Int {
    let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields = text[text.index(after: text.lastIndex(of: ")")!)...].split(separator: " ")
    return Int(fields[11])! + Int(fields[12])!
}
