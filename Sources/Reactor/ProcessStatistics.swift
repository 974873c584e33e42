import Glibc

/// What the kernel says about this process, for the `process_*` metrics every Prometheus client
/// library exports (the same sources as the Go and Python clients: /proc/self/stat, /proc/stat,
/// /proc/self/fd, RLIMIT_NOFILE). Read when scraped, never on a message's path.
public struct ProcessStatistics: Sendable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentBytes: Int
    /// Descriptors open now.
    public var openFiles: Int
    /// The soft limit on open descriptors.
    public var maxOpenFiles: Int
    /// When the process started, in seconds since the Unix epoch.
    public var startTimeSeconds: Double

    /// The current figures; a source that cannot be read gives 0 (a metric that reads 0 is easier to
    /// notice than a scrape that fails).
    ///
    /// The corresponding C functions are `sysconf(3)`, `pread(2)` on the /proc files, `readdir(3)`
    /// and `getrlimit(2)`.
    public static func current() -> ProcessStatistics {
        let ticks = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let pageSize = max(1, sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the
        // fields are counted from the last ')'. After it, field 3 (state) is index 0.
        var fields: [Substring] = []
        if let stat = Self.contents(of: "/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            fields = stat[stat.index(after: close)...].split(separator: " ")
        }
        func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
        let bootTime = Self.contents(of: "/proc/stat")?.split(separator: "\n")
            .first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) } ?? 0
        return ProcessStatistics(
            cpuSeconds: (field(14) + field(15)) / ticks,  // utime, stime
            residentBytes: Int(field(24)) * pageSize,  // rss, in pages
            openFiles: Self.openDescriptors(),
            maxOpenFiles: (try? ResourceLimits.openFiles().soft) ?? 0,
            startTimeSeconds: bootTime + field(22) / ticks)  // starttime, in ticks since boot
    }

    /// A small /proc file, whole (their size reads as 0, so it is read until the end).
    private static func contents(of path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Entries of /proc/self/fd, less the one the listing itself holds open.
    private static func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { $0.first == UInt8(ascii: ".") }
            if !isDot { count += 1 }
        }
        return max(0, count - 1)
    }
}
