import Glibc

/// What a path names, for the few decisions wsgate makes about files (serving `--dir`).
public enum FileStatus: Equatable, Sendable {
    case regularFile(executable: Bool)
    case directory
    case other

    /// The status of `path`, following links, or nil when it does not exist or cannot be reached.
    /// The corresponding C functions are `stat(2)` and `access(2)` with X_OK.
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: self = .regularFile(executable: access(path, X_OK) == 0)
        case S_IFDIR: self = .directory
        default: self = .other
        }
    }

    /// The absolute path `path` names once every symbolic link, `.` and `..` in it is resolved, or
    /// nil when it does not exist or cannot be reached.
    /// The corresponding C function is `realpath(3)`.
    public static func realPath(of path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension FileDescriptor {
    /// Writes all of `text`, retrying partial writes; for stderr log lines on a blocking descriptor.
    /// Errors are dropped: there is nowhere left to report a failure to write a log line.
    /// The corresponding C function is `write(2)`.
    public func writeAll(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(self.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written == -1 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
