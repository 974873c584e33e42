import Reactor

/// HTTP-date (RFC 9110 §5.6.7): what `Last-Modified` and `Date` carry and `If-Modified-Since` is
/// compared with. Pure arithmetic on seconds since the Unix epoch, in UTC.
public enum HTTPDate {
    static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate, the form a sender MUST generate: "Sun, 06 Nov 1994 08:49:37 GMT".
    public static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let inDay = seconds - days * 86400
        let (year, month, day) = Self.civil(fromDays: days)
        let weekday = Self.weekdays[Int(((days % 7) + 7) % 7)]
        return "\(weekday), \(Self.pad(day)) \(Self.months[Int(month) - 1]) \(year) "
            + "\(Self.pad(inDay / 3600)):\(Self.pad(inDay / 60 % 60)):\(Self.pad(inDay % 60)) GMT"
    }

    /// Seconds since the epoch for an HTTP-date in any of the three forms a recipient MUST accept
    /// (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime
    /// ("Sun Nov  6 08:49:37 1994"). Nil for anything else, which a conditional request then ignores.
    public static func parse(_ text: String) -> Int64? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var day: Int64?
        var month: Int64?
        var year: Int64?
        var time: (Int64, Int64, Int64)?
        switch words.count {
        case 4 where words[3] == "GMT" && words[1].contains("-"):  // RFC 850
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3, let yy = Int64(parts[2]), parts[2].count == 2 else { return nil }
            day = Int64(parts[0])
            month = Self.month(parts[1])
            year = yy < 70 ? 2000 + yy : 1900 + yy
            time = Self.clock(words[2])
        case 6 where words[5] == "GMT":  // IMF-fixdate
            day = Int64(words[1])
            month = Self.month(words[2])
            year = words[3].count == 4 ? Int64(words[3]) : nil
            time = Self.clock(words[4])
        case 5:  // asctime
            month = Self.month(words[1])
            day = Int64(words[2])
            time = Self.clock(words[3])
            year = words[4].count == 4 ? Int64(words[4]) : nil
        default:
            return nil
        }
        guard let day, let month, let year, let time, (1...31).contains(day), time.0 < 24, time.1 < 60, time.2 < 61
        else { return nil }
        return Self.days(year: year, month: month, day: day) * 86400 + time.0 * 3600 + time.1 * 60 + time.2
    }

    private static func month(_ name: String) -> Int64? {
        Self.months.firstIndex(of: name).map { Int64($0) + 1 }
    }

    private static func clock(_ text: String) -> (Int64, Int64, Int64)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ $0.count == 2 }),
            let hours = Int64(parts[0]), let minutes = Int64(parts[1]), let seconds = Int64(parts[2])
        else { return nil }
        return (hours, minutes, seconds)
    }

    private static func pad(_ value: Int64) -> String {
        value < 10 ? "0\(value)" : String(value)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The date of a day count since 1970-01-01.
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let (year, month, day) = WallClock.civil(fromDays: Int(days))
        return (Int64(year), Int64(month), Int64(day))
    }
}
