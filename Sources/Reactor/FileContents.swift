import Glibc

/// Reads a whole (small) file: `/proc` entries, htpasswd and token files.
public enum FileContents {
    /// The bytes of `path`, at most `limit` of them.
    /// - Throws: `SystemError` from `open` (ENOENT, EACCES) or `read` (EISDIR for a directory),
    ///   or EFBIG when the file is larger than `limit`.
    ///
    /// The corresponding C functions are `open(2)` and `read(2)`.
    public static func read(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> [UInt8] {
        let fd = FileDescriptor(rawValue: try systemCall("open") { open(path, O_RDONLY | O_CLOEXEC) })
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try systemCall("read") {
                buffer.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            }
            guard count > 0 else { return bytes }
            guard bytes.count + count <= limit else { throw SystemError(call: "read", errno: Errno(rawValue: EFBIG)) }
            bytes += buffer[0..<count]
        }
    }

    /// The text of a small file such as a /proc or cgroup entry, or "" when it cannot be read.
    public static func text(_ path: String) -> String {
        String(decoding: (try? Self.read(path)) ?? [], as: UTF8.self)
    }
}
