import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct WallClockTests {
        @Test(arguments: [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 7, "2000-02-29T00:00:00.007Z"),
            (1_700_000_000, 123, "2023-11-14T22:13:20.123Z"),
            (1_798_761_599, 999, "2026-12-31T23:59:59.999Z"),
            (4_102_444_799, 50, "2099-12-31T23:59:59.050Z"),
        ])
        func timestampsOfKnownInstants(seconds: Int, milliseconds: Int, text: String) {
            #expect(WallClock.timestamp(seconds: seconds, milliseconds: milliseconds) == text)
        }

        /// The hand-written calendar agrees with gmtime_r over a spread of instants.
        @Test func timestampsAgreeWithGmtime() {
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<2000 {
                var seconds = Int.random(in: 0..<4_102_444_800, using: &generator)
                var parts = tm()
                gmtime_r(&seconds, &parts)
                func pad(_ value: Int32, _ width: Int) -> String {
                    let text = String(value)
                    return String(repeating: "0", count: width - text.count) + text
                }
                let expected = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
                    + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).000Z"
                #expect(WallClock.timestamp(seconds: seconds, milliseconds: 0) == expected)
            }
        }
    }
}
