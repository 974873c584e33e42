/// The development console (`--devconsole`, websocketd's name): a plain browser GET of a route's
/// path gets a page that opens a WebSocket to that same path, instead of the 426; `GET /`, when
/// no route and no static `index.html` serves it, lists the routes, each a link to its console.
///
/// Last among the responders, so static files and CGI scripts keep their paths. Only GET and HEAD
/// are taken; anything else gets the route's refusal as before. Everything put into the page
/// (route patterns, commands) is HTML-escaped. For development: it tells anyone who can reach
/// the port which programs serve which paths.
final class DevConsole: HTTPResponder {
    let name = "devconsole"
    /// Its routes are read at each request: a reload may change them.
    unowned let server: GatewayServer

    init(server: GatewayServer) {
        self.server = server
    }

    func serve(_ exchange: HTTPExchange) -> Bool {
        let request = exchange.request
        guard request.method == "GET" || request.isHead else { return false }
        let page: String
        if let route = request.route {
            page = DevConsolePage.console(pattern: route.pattern, handler: Self.handlerText(route.handler),
                                          mode: Self.mode(of: route.handler))
        } else if request.path == "/" {
            page = DevConsolePage.index(routes: self.server.router.routes.map(\.route).map { route in
                (pattern: route.pattern, link: Self.consoleLink(for: route.pattern),
                 handler: Self.handlerText(route.handler), mode: Self.mode(of: route.handler))
            })
        } else {
            return false
        }
        exchange.respond(status: 200, headers: [
            ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ], body: .bytes(Array(page.utf8)))
        return true
    }

    /// What runs the route, as the start-up log names it.
    static func handlerText(_ handler: RouteHandler) -> String {
        switch handler {
        case .program(let command, _): command.description
        case .directory(let path, _): "every executable below \(path)"
        default: handler.name
        }
    }

    static func mode(of handler: RouteHandler) -> String {
        switch handler {
        case .echo, .broadcast: "built-in"
        case .custom: "embedded"
        case .program(_, let mode), .directory(_, let mode): mode.rawValue
        }
    }

    /// A path the route serves: the pattern itself, or for a prefix ("/chat/*") one path below it.
    static func consoleLink(for pattern: String) -> String {
        guard pattern.hasSuffix("/*") else { return Self.percentEncodedPath(pattern) }
        return Self.percentEncodedPath(String(pattern.dropLast())) + "console"
    }

    /// `path` with every byte a URL path may not hold as it is percent-encoded, so that a
    /// pattern with a space or a quote makes a link that leads back to it.
    static func percentEncodedPath(_ path: String) -> String {
        var result = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case _ where "/-._~!$&'()*+,;=:@".utf8.contains(byte) && byte != UInt8(ascii: "'"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                result += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return result
    }
}

/// Text made safe to put into HTML, in an element or a quoted attribute.
func htmlEscaped(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&#39;"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}
