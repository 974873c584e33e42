import Reactor

/// Finds the program for a request path below a `--dir` directory, as websocketd's GetURLInfo does:
/// walk the path's components, stop at the first file; what follows it is PATH_INFO.
///
/// `..`, `.` and empty components are refused, so a request cannot leave the directory. Only
/// regular files that wsgate may execute are served.
enum ScriptDirectory {
    enum Lookup: Equatable {
        case found(file: String, scriptName: String, pathInfo: String)
        case notFound(String)
    }

    static func lookup(_ path: String, in directory: String) -> Lookup {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !parts.isEmpty else { return .notFound("no program named") }
        var scriptName = ""
        for (index, part) in parts.enumerated() {
            guard !part.isEmpty, part != ".", part != ".." else { return .notFound("invalid path") }
            scriptName += "/" + part
            let file = directory + scriptName
            guard let status = FileStatus(path: file) else { return .notFound("\(scriptName) not found") }
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
}
