import Foundation
import Gateway
import Testing

/// A gateway whose /yes route runs `yes`: an endpoint that never stops sending. It logs access
/// lines only (a debug line per frame of a flood would be most of the test's work).
private func floodServer(_ extra: [Route] = []) throws -> (TestServer, LogLines) {
    let lines = LogLines()
    let server = try TestServer(routes: [programRoute("/yes", ProgramCommand(executable: "yes"))] + extra) { configuration in
        configuration.log = Log(level: .access) { line in lines.append(line) }
    }
    return (server, lines)
}

/// The close code the server logged for the one session on `path`, waiting for it up to 10 s.
private func loggedCloseCode(_ log: LogLines, path: String) -> String? {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if let line = log.all.first(where: { $0.contains("event=session.close") && $0.contains("path=\(path) ") }) {
            return line.split(separator: " ").first { $0.hasPrefix("code=") }.map { String($0.dropFirst(5)) }
        }
        usleep(10_000)
    }
    return nil
}

/// Far above what a bounded client needs (a few MiB of buffers beside the runtime) and far below
/// what reading a flood without bound reaches within the test's time (issue 15: 2.4 GB).
private let clientMemoryLimitKiB = 256 * 1024

/// End to end: `send` and `client` against an endpoint that never stops sending end when they
/// should, within bounded memory, and close properly.
@Suite("wsgate client tools against a flood")
struct ClientCommandFloodTests {
    @Test func sendStopsAfterCountAgainstFloodWithBoundedMemory() throws {
        let (server, log) = try floodServer()
        // --timeout: the close handshake waits for `yes` to be stopped and its last pipe of output to
        // drain, seconds on a loaded machine.
        let run = try runWsgate(["send", server.url + "/yes", "-n", "5", "--timeout", "20s"], timeout: 40,
                                memoryLimit: clientMemoryLimitKiB)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == String(repeating: "y\n", count: 5))
        #expect(run.stderr == "", "stderr: \(run.stderr)")
        // It closed properly: our close frame reached the server, which logged its code.
        #expect(loggedCloseCode(log, path: "/yes") == "1000")
    }

    /// A bounded client ends its linger against a server that never stops sending, in bounded memory.
    @Test(arguments: ["", "x\n"])
    func clientEndsWithinLingerAgainstFlood(_ input: String) throws {
        let (server, log) = try floodServer()
        let started = Date()
        // The close handshake waits for the program to be stopped and its last output (a full pipe of
        // `y`) to be delivered: on a loaded machine that takes seconds, so the client's bound is generous.
        let run = try runWsgate(["client", server.url + "/yes", "--linger", "300ms", "--timeout", "20s"], input: input,
                                timeout: 40, memoryLimit: clientMemoryLimitKiB)
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr == "closed: 1000 (OK)\n", "stderr: \(run.stderr)")
        #expect(elapsed < 25, "took \(elapsed) s with --linger 300ms")
        // How many arrive within the linger depends on the machine's load; only what they are is fixed.
        #expect(run.stdoutLines.allSatisfy { $0 == "y" })
        #expect(loggedCloseCode(log, path: "/yes") == "1000")
    }

    /// `--linger` bounds the whole wait after input ends, whether input had lines or none. It used
    /// to be a quiet period restarted by every message (up to 10 s), and `</dev/null` skipped it.
    @Test(arguments: ["", "x\n"])
    func clientLingerIsNotRestartedByEachMessage(_ input: String) throws {
        let scripts = try ScratchScripts()
        let ticker = try scripts.script("ticker", "while :; do echo tick; sleep 0.1; done")
        let (server, _) = try floodServer([programRoute("/tick", ProgramCommand(executable: ticker))])
        let started = Date()
        let run = try runWsgate(["client", server.url + "/tick", "--linger", "500ms"], input: input, timeout: 30)
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr == "closed: 1000 (OK)\n", "stderr: \(run.stderr)")
        #expect(elapsed < 8, "took \(elapsed) s with --linger 500ms")
        #expect(run.stdoutLines.allSatisfy { $0 == "tick" })
    }

    /// With no input at all the client still lingers: what the server says soon after the
    /// handshake is printed, as it is after `echo x |`.
    @Test func clientWithEmptyInputPrintsWhatArrivesWhileLingering() throws {
        let scripts = try ScratchScripts()
        let late = try scripts.script("late", "sleep 0.3; echo late")
        let (server, _) = try floodServer([programRoute("/late", ProgramCommand(executable: late))])
        let run = try runWsgate(["client", server.url + "/late", "--linger", "20s"], input: "", timeout: 30)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout == "late\n")
        #expect(run.stderr == "closed: 1000 (OK)\n", "stderr: \(run.stderr)")
    }

    /// A bridged program that does not read its stdin: the client stops reading the socket rather
    /// than queueing the flood for it, so its memory levels off (it grew by megabytes a second).
    @Test func bridgeStopsReadingWhileProgramDoesNotRead() throws {
        let (server, _) = try floodServer()
        // --timeout: after `sleep` ends, the close handshake waits for the server's `yes` to be stopped
        // and its last output to drain, seconds on a loaded machine.
        let bridge = try WsgateClientProcess(["client", server.url + "/yes", "--linger", "0", "--timeout", "20s",
                                              "--exec", "sleep 5"])
        let pid = bridge.process.processIdentifier
        let started = Date()
        var early = 0, peak = 0
        while bridge.process.isRunning, let sample = peakResidentKiB(pid) {
            if Date().timeIntervalSince(started) < 1.5 { early = sample }
            peak = sample
            usleep(50_000)
        }
        #expect(bridge.waitForExit(timeout: 30) == 0, "stderr: \(bridge.stderr)")
        #expect(early > 0 && peak < 64 * 1024, "peak resident \(peak) KiB")
        #expect(peak - early < 8 * 1024, "resident memory grew from \(early) KiB to \(peak) KiB")
    }
}
