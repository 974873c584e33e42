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
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Self.timestamp(seconds: Int(now.tv_sec), milliseconds: Int(now.tv_nsec / 1_000_000))
    }

    /// The timestamp of an instant, written by hand into the string's own storage, the date from
    /// the day count by Howard Hinnant's `civil_from_days`: every log line starts with one, the
    /// access log writes two per session, and `gmtime_r` with string interpolation cost a churned
    /// session more than its handshake did.
    static func timestamp(seconds: Int, milliseconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        return String(unsafeUninitializedCapacity: 24) { text in
            func put(_ value: Int, _ width: Int, at offset: Int, then separator: UInt8) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    text[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                text[offset + width] = separator
            }
            put(year, 4, at: 0, then: UInt8(ascii: "-"))
            put(month, 2, at: 5, then: UInt8(ascii: "-"))
            put(day, 2, at: 8, then: UInt8(ascii: "T"))
            put(secondOfDay / 3600, 2, at: 11, then: UInt8(ascii: ":"))
            put(secondOfDay / 60 % 60, 2, at: 14, then: UInt8(ascii: ":"))
            put(secondOfDay % 60, 2, at: 17, then: UInt8(ascii: "."))
            put(milliseconds, 3, at: 20, then: UInt8(ascii: "Z"))
            return 24
        }
    }
}

extension WallClock {
    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`): log timestamps and HTTP dates.
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
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
