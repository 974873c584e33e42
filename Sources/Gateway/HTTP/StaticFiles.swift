import Reactor
import WebSocket

/// Serves the files below a directory (`--staticdir`) to plain GET and HEAD requests, as
/// websocketd does for requests that are not upgrades.
///
/// What it takes: a request whose path names a file or directory below the directory, and, so
/// that a page's missing asset costs no connection, every request whose path matches no
/// WebSocket route (it answers those 404 itself). A route's path that names no file is left to the
/// route (426 for a plain GET).
///
/// Confinement: `RequestPath` refuses `..`, dotfiles, encoded slashes and NUL before the file
/// system is asked; then the candidate's real path (every symbolic link resolved) must lie below
/// the directory's real path, so a link that leads out is 404 like a missing file; then the file
/// is opened by that real path without following a final link, and `fstat` must say regular file.
///
/// A directory is served by its `index.html`; asked without its final "/", it answers 301 to
/// the path with it (so the page's relative links resolve), and without an index, 404: there is
/// no directory listing. With `leavesMissingRoot` (the dev console is on), `/` without an
/// `index.html` is left to the console's list of routes instead.
final class StaticFiles: HTTPResponder {
    let name = "static"
    let directory: String
    private let log: Log
    private let leavesMissingRoot: Bool

    init(directory: String, log: Log, leavesMissingRoot: Bool = false) {
        self.directory = directory
        self.log = log
        self.leavesMissingRoot = leavesMissingRoot
    }

    func serve(_ exchange: HTTPExchange) -> Bool {
        let request = exchange.request
        let path: RequestPath
        switch RequestPath.parse(request.path) {
        case .failure(let refusal):
            guard request.route == nil else { return false }
            exchange.respond(status: refusal.status, text: refusal.reason)
            return true
        case .success(let parsed):
            path = parsed
        }
        guard let root = FileStatus.realPath(of: self.directory),
            let found = self.find(path, below: root)
        else {
            guard request.route == nil, !(self.leavesMissingRoot && path.segments.isEmpty) else { return false }
            exchange.respond(status: 404, text: "\(path.decoded) not found")
            return true
        }
        guard request.method == "GET" || request.isHead else {
            exchange.respond(status: 405, headers: [("Allow", "GET, HEAD")],
                             text: "method \(request.method) not allowed: use GET or HEAD")
            return true
        }
        switch found {
        case .directoryWithoutSlash:
            let location = request.path + "/" + (request.query.isEmpty ? "" : "?" + request.query)
            exchange.respond(status: 301, headers: [("Location", location)], text: "moved to \(location)")
        case .file(let real):
            self.send(real, for: exchange)
        }
        return true
    }

    private enum Found {
        case file(String)
        case directoryWithoutSlash
    }

    /// The real path of what `path` names below `root`, or nil when it names nothing servable.
    private func find(_ path: RequestPath, below root: String) -> Found? {
        let candidate = ([root] + path.segments).joined(separator: "/")
        guard let real = FileStatus.realPath(of: candidate), ScriptDirectory.isInside(real, root),
            let status = FileStatus(path: real)
        else { return nil }
        switch status {
        case .regularFile:
            return path.trailingSlash ? nil : .file(real)
        case .directory:
            if !path.trailingSlash && !path.segments.isEmpty { return .directoryWithoutSlash }
            guard let index = FileStatus.realPath(of: real + "/index.html"), ScriptDirectory.isInside(index, root),
                case .regularFile = FileStatus(path: index)
            else { return nil }
            return .file(index)
        case .other:
            return nil
        }
    }

    private func send(_ real: String, for exchange: HTTPExchange) {
        let request = exchange.request
        let file: RegularFile
        do {
            file = try RegularFile(openingForReading: real)
        } catch {
            self.log.debug("static.open_failed", [("path", real), ("error", error)])
            exchange.respond(status: 404, text: "\(request.path) not found")
            return
        }
        let validators = FileValidators(size: file.status.size, modifiedSeconds: file.status.modifiedSeconds,
                                        modifiedNanoseconds: file.status.modifiedNanoseconds)
        var headers: [(name: String, value: String)] = [
            ("ETag", validators.entityTag), ("Last-Modified", validators.lastModified),
        ]
        if validators.notModified(ifNoneMatch: request.head["If-None-Match"],
                                  ifModifiedSince: request.head["If-Modified-Since"]) {
            file.close()
            exchange.respond(status: 304, headers: headers, body: .empty)
            return
        }
        headers += [
            ("Content-Type", MediaType.forFile(named: real)), ("Accept-Ranges", "bytes"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        // RFC 9110 §14.2: Range is defined for GET only.
        let range = request.method == "GET" && validators.rangeApplies(ifRange: request.head["If-Range"])
            ? ByteRange.parse(request.head["Range"], length: validators.size) : .whole
        switch range {
        case .whole:
            exchange.respond(status: 200, headers: headers, body: .file(file, range: nil))
        case .partial(let first, let last):
            headers.append(("Content-Range", "bytes \(first)-\(last)/\(validators.size)"))
            exchange.respond(status: 206, headers: headers, body: .file(file, range: first...last))
        case .unsatisfiable:
            file.close()
            exchange.respond(status: 416, headers: [("Content-Range", "bytes */\(validators.size)")],
                             text: "range not satisfiable: the file has \(validators.size) bytes")
        }
    }
}
