import Glibc

/// The real-time clock, for log timestamps and unique ids; never for measuring durations
/// (use `ContinuousClock`, which does not jump).
public enum WallClock {
    /// Nanoseconds since the Unix epoch.
    /// The corresponding C function is `clock_gettime(2)` with CLOCK_REALTIME.
    public static func nanosecondsSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// UTC with millisecond precision: "2026-11-21T09:40:00.123Z".
    /// The corresponding C function is `gmtime_r(3)`.
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

/// wsgate's own environment.
public enum ProcessEnvironment {
    /// The value of `name`, or nil when it is not set.
    /// The corresponding C function is `getenv(3)`.
    public static func value(of name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
