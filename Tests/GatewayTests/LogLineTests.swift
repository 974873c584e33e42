import Synchronization
import Testing

@testable import Gateway

/// How a log line is put together: the same bytes whether it fits the stack buffer or is longer.
@Suite("Log lines")
struct LogLineTests {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    static func logged(_ write: (Log) -> Void) -> String {
        let lines = Lines()
        let log = Log(level: .debug) { line in lines.all.withLock { $0.append(line) } }
        write(log.with("id", 7).with("remote", "10.0.0.1:80"))
        let all = lines.all.withLock { $0 }
        #expect(all.count == 1)
        return all.first ?? ""
    }

    @Test func fieldsAreQuotedWhenTheyNeedIt() {
        let line = Self.logged { $0.info("session.close", [("code", 1000), ("close_reason", "bye now"), ("empty", "")]) }
        #expect(line.hasPrefix("ts="))
        #expect(line.hasSuffix(" level=info event=session.close id=7 remote=10.0.0.1:80 code=1000 close_reason=\"bye now\" empty=\"\"\n"))
    }

    /// A line longer than the stack buffer (1,024 bytes): built in an allocated one, nothing cut.
    @Test(arguments: [1000, 1100, 5000])
    func longLinesAreWhole(length: Int) {
        let long = String(repeating: "x", count: length)
        let escaped = String(repeating: "\u{1}", count: length / 10)
        let line = Self.logged { $0.error("process.stderr", [("line", long), ("control", escaped)]) }
        #expect(line.contains(" line=\(long) "))
        #expect(line.contains(" control=\"" + String(repeating: "\\x01", count: length / 10) + "\"\n"))
    }
}
