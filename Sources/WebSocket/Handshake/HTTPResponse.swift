/// A complete HTTP response to write before closing: used for every refused upgrade.
public struct HTTPResponse: Equatable, Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: String

    public init(status: Int, headers: [(name: String, value: String)] = [], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func == (lhs: HTTPResponse, rhs: HTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The wire bytes: status line, the headers, a plain-text body ending in a newline, and
    /// `Connection: close`, since every such response ends the connection.
    public func serialized() -> [UInt8] {
        let body = self.body.hasSuffix("\n") ? self.body : self.body + "\n"
        var headers = self.headers
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        headers.append(("Content-Length", String(body.utf8.count)))
        headers.append(("Connection", "close"))
        let head = HTTPHead(startLine: .response(version: "HTTP/1.1", status: self.status,
                                                 reason: Self.reasonPhrase(self.status)), headers: headers)
        return head.serialized() + Array(body.utf8)
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 401: "Unauthorized"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 416: "Range Not Satisfiable"
        case 426: "Upgrade Required"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }
}
