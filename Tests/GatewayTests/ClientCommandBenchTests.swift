import Foundation
import Gateway
import Testing

/// An echo server that logs only access lines (per-frame debug lines would slow a benchmark),
/// kept so a test can sum what the server itself counted.
private func countingEchoServer() throws -> (TestServer, LogLines) {
    let lines = LogLines()
    let server = try TestServer(routes: [Route("/echo", .echo)]) { configuration in
        configuration.log = Log(level: .access) { line in lines.append(line) }
    }
    return (server, lines)
}

/// The integer value of `name=` on a log line.
private func field(_ name: String, _ line: String) -> Int? {
    line.split(separator: " ").first { $0.hasPrefix(name + "=") }.flatMap { Int($0.dropFirst(name.count + 1)) }
}

/// Runs `wsgate bench ... --json` and returns the parsed object, failing on a non-JSON answer.
private func benchJSON(_ arguments: [String], timeout: Double = 15) throws -> (status: Int32?, json: [String: Any]) {
    let run = try runWsgate(["bench"] + arguments + ["--json"], timeout: timeout)
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
    let json = try #require(object as? [String: Any], "stdout: \(run.stdout) stderr: \(run.stderr)")
    return (run.status, json)
}

/// End to end: `wsgate bench` against the gateway's echo, its figures checked against themselves
/// and against the server's own count of the messages it received.
@Suite("wsgate bench end to end")
struct ClientCommandBenchTests {
    @Test func benchForTwoSecondsGivesSaneFiguresMatchingServerCount() throws {
        let (server, log) = try countingEchoServer()
        let connections = 4, inFlight = 4
        let (status, json) = try benchJSON([server.url + "/echo", "-c", "\(connections)", "-p", "\(inFlight)",
                                            "-s", "64", "-d", "2s"])
        #expect(status == 0, "\(json)")
        #expect(json["errors"] as? [String] == [])
        #expect(json["mode"] as? String == "echo")
        let completed = try #require(json["completed"] as? Int)
        let seconds = try #require(json["seconds"] as? Double)
        let perSecond = try #require(json["per_second"] as? Double)
        let megabytes = try #require(json["mb_per_second"] as? Double)
        #expect(completed > 0)
        #expect(seconds >= 1.95 && seconds < 3, "ran \(seconds) s for -d 2s")
        // "seconds" is printed to the millisecond, so the rate recomputed from it agrees to within that.
        #expect(perSecond > 0 && abs(perSecond / (Double(completed) / seconds) - 1) < 0.0005 / seconds,
                "\(perSecond) vs \(completed)/\(seconds)")
        #expect(abs(megabytes / (Double(completed * 64) / seconds / 1e6) - 1) < 0.0005 / seconds + 0.001)
        let latency = try #require(json["latency_us"] as? [String: Int])
        let p50 = try #require(latency["p50"]), p90 = try #require(latency["p90"])
        let p99 = try #require(latency["p99"]), max = try #require(latency["max"])
        #expect(0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "\(latency)")
        // Latency cannot exceed the run, and with 16 messages outstanding it bounds the rate.
        #expect(Double(max) <= seconds * 1e6)

        // The independent count: each session's messages_in as the server logged it at close.
        // Bench stops counting with up to -p messages per connection still in flight.
        let deadline = Date().addingTimeInterval(10)
        var closes: [String] = []
        while Date() < deadline {
            closes = log.all.filter { $0.contains("event=session.close") }
            if closes.count == connections { break }
            usleep(10_000)
        }
        #expect(closes.count == connections, "\(closes)")
        let received = closes.compactMap { field("messages_in", $0) }.reduce(0, +)
        #expect(completed <= received && received <= completed + connections * inFlight,
                "bench completed \(completed), server received \(received)")
    }

    @Test func benchWithMessageCountStopsThere() throws {
        let (server, _) = try countingEchoServer()
        let (status, json) = try benchJSON([server.url + "/echo", "-c", "2", "-p", "8", "-n", "3000", "--binary",
                                            "-s", "1KiB"])
        #expect(status == 0, "\(json)")
        #expect(json["binary"] as? Bool == true)
        #expect(json["size"] as? Int == 1024)
        #expect(json["completed"] as? Int == 3000)
    }

    /// Exactly N, not N rounded up by connections × messages in flight: 1000 is no multiple of
    /// 3 × 7, and the server's own count agrees.
    @Test func benchWithMessageCountCompletesExactlyThatMany() throws {
        let (server, log) = try countingEchoServer()
        let (status, json) = try benchJSON([server.url + "/echo", "-n", "1000", "-c", "3", "-p", "7"])
        #expect(status == 0, "\(json)")
        #expect(json["completed"] as? Int == 1000)
        let deadline = Date().addingTimeInterval(10)
        var closes: [String] = []
        while closes.count < 3 && Date() < deadline {
            closes = log.all.filter { $0.contains("event=session.close") }
            usleep(10_000)
        }
        #expect(closes.compactMap { field("messages_in", $0) }.reduce(0, +) == 1000, "\(closes)")
    }

    @Test func benchChurnWithCountMakesExactlyThatManySessions() throws {
        let (server, log) = try countingEchoServer()
        let (status, json) = try benchJSON([server.url + "/echo", "-n", "10", "-c", "3", "--churn"])
        #expect(status == 0, "\(json)")
        #expect(json["completed"] as? Int == 10)
        #expect(log.all.filter { $0.contains("event=session.open") }.count == 10)
    }

    @Test func benchChurnCountsSessions() throws {
        let (server, log) = try countingEchoServer()
        let (status, json) = try benchJSON([server.url + "/echo", "-c", "2", "--churn", "-d", "1s"])
        #expect(status == 0, "\(json)")
        #expect(json["mode"] as? String == "churn")
        #expect(json["errors"] as? [String] == [])
        let sessions = try #require(json["completed"] as? Int)
        #expect(sessions > 0)
        // Every completed session was opened on the server (at most one more per connection, cut short).
        let opened = log.all.filter { $0.contains("event=session.open") }.count
        #expect(sessions <= opened && opened <= sessions + 2, "bench \(sessions) sessions, server opened \(opened)")
    }

    @Test func benchSummaryIsReadable() throws {
        let (server, _) = try countingEchoServer()
        let run = try runWsgate(["bench", server.url + "/echo", "-n", "200"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 4, "stdout: \(run.stdout)")
        #expect(run.stdout.contains("connections=1 in_flight=1 size=32 text"))
        #expect(run.stdout.contains("messages/s") && run.stdout.contains("latency us: p50="))
        #expect(run.stdout.contains("errors: 0"))
    }
}
