import WebSocket

/// A plain HTTP request (one that asks for no upgrade) with its body, as the dispatch hands it to
/// the responders.
public struct HTTPRequest {
    public let head: HTTPHead
    public let method: String
    /// "HTTP/1.1" or "HTTP/1.0".
    public let version: String
    /// The path as the client sent it, percent-encoded, without the query.
    public let path: String
    /// The query after "?", or "".
    public let query: String
    public let body: [UInt8]
    /// The WebSocket route whose pattern matches the path, if any. Unless a responder serves the
    /// request, a plain GET of it is refused with 426 as before.
    public let route: Route?

    public var isHead: Bool { self.method == "HEAD" }

    /// Whether the client lets the connection stay open after the response (RFC 9112 §9.3):
    /// HTTP/1.1 unless it sends `Connection: close`; HTTP/1.0 only when it sends
    /// `Connection: keep-alive` (RFC 9112 §C.2.2).
    public var wantsKeepAlive: Bool { Self.keepsAlive(self.head) }

    static func keepsAlive(_ head: HTTPHead) -> Bool {
        let connection = head.tokens(of: "Connection")
        if connection.contains("close") { return false }
        guard case .request(_, _, let version) = head.startLine else { return false }
        return version == "HTTP/1.1" || (version == "HTTP/1.0" && connection.contains("keep-alive"))
    }

    /// How a plain request's body is framed (RFC 9112 §6.3), decided from its head alone.
    enum Framing: Equatable {
        case none
        case length(Int)
        /// `Transfer-Encoding`: not read, the request is refused with 411 (see the README).
        case transferCoded
        /// Larger than the bound: 413 before any of it is read.
        case tooLarge(Int)
        /// A `Content-Length` that is not one number: 400.
        case invalid(String)
    }

    static func framing(of head: HTTPHead, maxBody: Int) -> Framing {
        if !head.values(of: "Transfer-Encoding").isEmpty { return .transferCoded }
        let lengths = Set(head.listElements(of: "Content-Length"))
        guard let text = lengths.first else { return .none }
        guard lengths.count == 1, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let length = Int(text)
        else { return .invalid("invalid Content-Length") }
        if length > maxBody { return .tooLarge(length) }
        return length == 0 ? .none : .length(length)
    }

    /// Whether a request asks for an upgrade: it names one (`Upgrade`) or says it wants one
    /// (`Connection: upgrade`). Those go the WebSocket way, with its refusals, whatever their path.
    static func asksForUpgrade(_ head: HTTPHead) -> Bool {
        !head.values(of: "Upgrade").isEmpty || head.tokens(of: "Connection").contains("upgrade")
    }
}

/// What serves plain HTTP requests: static files, CGI scripts (and next a console and metrics).
///
/// The server asks its responders in order (`GatewayServer.responders`); the first whose `serve`
/// returns true owns the exchange and must end it, now or later, on the loop thread, with
/// `HTTPExchange.respond`. One that returns false has not touched it. When none takes a request,
/// it gets what it always got: the route's refusal (426 for a plain GET) or 404.
public protocol HTTPResponder: AnyObject {
    /// A short name for the access log (`responder=static`).
    var name: String { get }
    /// Takes the request and answers it (returns true), or leaves it to the next responder.
    func serve(_ exchange: HTTPExchange) -> Bool
}
