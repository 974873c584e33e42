/// The `Content-Type` of a static file, from its extension: a small built-in table, so that what a
/// browser is told does not depend on the host's /etc/mime.types. Text types name UTF-8.
/// Anything else is `application/octet-stream` (sent with `X-Content-Type-Options: nosniff`, so
/// a browser does not guess a script or a page out of it).
public enum MediaType {
    static let table: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "gif": "image/gif", "webp": "image/webp", "ico": "image/x-icon",
        "wasm": "application/wasm", "txt": "text/plain; charset=utf-8", "woff2": "font/woff2",
    ]

    public static let fallback = "application/octet-stream"

    /// The type for a file name; the extension is matched without regard to case.
    public static func forFile(named name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return Self.fallback }
        return Self.table[name[name.index(after: dot)...].lowercased()] ?? Self.fallback
    }
}
