import Reactor
import WebSocket

/// Finds the program for a request path below a `--dir` directory, as websocketd's GetURLInfo does:
/// walk the path's components, stop at the first file; what follows it is PATH_INFO.
///
/// A request cannot leave the directory. `..`, `.` and empty components are refused on the way to
/// the program, and `..` in PATH_INFO too, spelled out or percent-encoded, for programs that join it
/// to a directory of their own. Every candidate is resolved with realpath(3), and one that leads
/// out of the directory's own real path, through a symbolic link, is refused as if it did not
/// exist. Links that stay inside are served, under the name requested, so a program still sees the
/// `$0` it was linked as. Only regular files that wsgate may execute are served.
enum ScriptDirectory {
    enum Lookup: Equatable {
        case found(file: String, scriptName: String, pathInfo: String)
        case notFound(String)
    }

    static func lookup(_ path: String, in directory: String) -> Lookup {
        // Split on the byte: a combining mark after "/" would make one Character of the two.
        let parts = path.splittingBytes(at: UInt8(ascii: "/")).dropFirst()
        guard !parts.isEmpty else { return .notFound("no program named") }
        guard let root = FileStatus.realPath(of: directory) else { return .notFound("\(directory) not found") }
        var scriptName = ""
        for (index, part) in parts.enumerated() {
            guard !part.isEmpty, part != ".", part != ".." else { return .notFound("invalid path") }
            scriptName += "/" + part
            let file = directory + scriptName
            guard let status = FileStatus(path: file) else { return .notFound("\(scriptName) not found") }
            guard let real = FileStatus.realPath(of: file), Self.isInside(real, root) else {
                return .notFound("\(scriptName) leads out of the directory")
            }
            if status == .directory {
                if index == parts.count - 1 { return .notFound("\(scriptName) is a directory") }
                continue
            }
            guard status == .regularFile(executable: true) else {
                return .notFound("\(scriptName) is not an executable program")
            }
            let rest = parts.dropFirst(index + 1)
            let pathInfo = rest.isEmpty ? "" : "/" + rest.joined(separator: "/")
            guard !Self.hasDotDotSegment(pathInfo) else { return .notFound("invalid path") }
            return .found(file: file, scriptName: scriptName, pathInfo: pathInfo)
        }
        return .notFound("\(path) not found")
    }

    /// Whether `path` is `root` or below it; both are real paths.
    static func isInside(_ path: String, _ root: String) -> Bool {
        if root == "/" { return true }
        return path == root || path.hasPrefix(root + "/")
    }

    /// Whether a `..` segment appears in `path` once it is percent-decoded (so `%2e%2e` and
    /// `..%2f` count too).
    static func hasDotDotSegment(_ path: String) -> Bool {
        var decoded: [UInt8] = []
        let bytes = Array(path.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = RequestPath.hexValue(bytes[index + 1]), let low = RequestPath.hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        return decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .contains { $0.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) }
    }
}
