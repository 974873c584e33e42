import Glibc

/// The process's limit on open descriptors, which bounds how many sessions it can hold.
public enum ResourceLimits {
    /// The soft (enforced) and hard (ceiling) limits on open descriptors.
    /// The corresponding C function is `getrlimit(2)` with RLIMIT_NOFILE.
    public static func openFiles() throws(SystemError) -> (soft: Int, hard: Int) {
        var limit = rlimit()
        _ = try systemCall("getrlimit") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
        return (Self.clamped(limit.rlim_cur), Self.clamped(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one, as Go's runtime does at start for websocketd: the
    /// default soft limit (often 1024) is far below what a gateway needs, and only the hard limit
    /// is the administrator's choice.
    /// - Returns: the soft limit now in force.
    /// The corresponding C function is `setrlimit(2)` with RLIMIT_NOFILE.
    @discardableResult
    public static func raiseOpenFilesToHardLimit() throws(SystemError) -> Int {
        var limit = rlimit()
        _ = try systemCall("getrlimit") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
        guard limit.rlim_cur < limit.rlim_max else { return Self.clamped(limit.rlim_cur) }
        limit.rlim_cur = limit.rlim_max
        _ = try systemCall("setrlimit") { setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
        return Self.clamped(limit.rlim_cur)
    }

    private static func clamped(_ value: rlim_t) -> Int {
        value > rlim_t(Int.max) ? Int.max : Int(value)  // RLIM_INFINITY is all ones
    }
}
