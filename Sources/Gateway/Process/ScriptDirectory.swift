import Reactor

/// Finds the program for a request path below a `--dir` directory, as websocketd's GetURLInfo does:
/// walk the path's components, stop at the first file; what follows it is PATH_INFO.
///
/// A request cannot leave the directory. `..`, `.` and empty components are refused on the way to
/// the program. Every candidate is resolved with realpath(3), and one that leads out of the
/// directory's own real path, through a symbolic link, is refused as if it did not exist. Links
/// that stay inside are served, under the name requested, so a program still sees the `$0` it was
/// linked as. Only regular files that wsgate may execute are served.
enum ScriptDirectory {
    enum Lookup: Equatable {
        case found(file: String, scriptName: String, pathInfo: String)
        case notFound(String)
    }

    static func lookup(_ path: String, in directory: String) -> Lookup {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
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
            return .found(file: file, scriptName: scriptName, pathInfo: rest.isEmpty ? "" : "/" + rest.joined(separator: "/"))
        }
        return .notFound("\(path) not found")
    }

    /// Whether `path` is `root` or below it; both are real paths.
    private static func isInside(_ path: String, _ root: String) -> Bool {
        if root == "/" { return true }
        return path == root || path.hasPrefix(root + "/")
    }
}
