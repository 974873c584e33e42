import Client
import Gateway
import Testing
import WebSocket

/// Says which route served it, then the path and query the session saw.
final class NameHandler: SessionHandler {
    let name: String

    init(_ name: String) {
        self.name = name
    }

    func sessionDidOpen(_ session: Session) {
        session.send(text: "\(self.name) \(session.path) \(session.query) \(session.subprotocol ?? "-")")
    }

    func session(_ session: Session, didReceive message: Message) {}
}

func named(_ name: String) -> RouteHandler {
    .custom(name: name) { _ in NameHandler(name) }
}

@Suite("Routing and subprotocols")
struct RoutingTests {
    static var routes: [Route] {
        [
            Route("/chat/*", named("prefix")),
            Route("/chat/special", named("exact")),
            Route("/chat/private/*", named("longer")),
            Route("/echo", .echo),
        ]
    }

    @Test(arguments: [
        ("/chat/a", "prefix /chat/a "),
        ("/chat/a/b", "prefix /chat/a/b "),
        ("/chat/special", "exact /chat/special "),
        ("/chat/special?x=1&y", "exact /chat/special x=1&y"),
        ("/chat/a?x=/chat", "prefix /chat/a x=/chat"),
        ("/chat/special/more", "prefix /chat/special/more "),
        ("/chat/private/room", "longer /chat/private/room "),
    ])
    func requestIsServedByTheRightRoute(target: String, greeting: String) throws {
        let server = try TestServer(routes: Self.routes)
        let client = try server.connect(target)
        #expect(try client.receiveMessage() == .text(greeting + " -"))
    }

    @Test(arguments: ["/chat", "/chatx", "/chatx/a", "/Chat/a", "/echo/", "/echox", "/", "/chat?x=/chat/a"])
    func requestOutsideEveryRouteGets404(target: String) throws {
        let server = try TestServer(routes: Self.routes)
        let response = try rawHTTP(port: server.port, upgradeRequest(target))
        #expect(statusCode(response) == 404, "\(target): \(response)")
    }

    @Test func exactRouteWinsWhateverTheOrder() throws {
        let server = try TestServer(routes: [Route("/a/*", named("prefix")), Route("/a/b", named("exact"))])
        #expect(try server.connect("/a/b").receiveMessage() == .text("exact /a/b  -"))
        let reversed = try TestServer(routes: [Route("/a/b", named("exact")), Route("/a/*", named("prefix"))])
        #expect(try reversed.connect("/a/b").receiveMessage() == .text("exact /a/b  -"))
    }

    @Test func serverSelectsItsMostPreferredOfferedSubprotocol() throws {
        let server = try TestServer(routes: Self.routes) { $0.subprotocols = ["v2.chat", "v1.chat"] }
        var options = BlockingClient.Options()
        options.subprotocols = ["v1.chat", "v2.chat"]
        let client = try server.connect("/chat/a", options: options)
        #expect(client.subprotocol == "v2.chat")
        #expect(client.response["Sec-WebSocket-Protocol"] == "v2.chat")
        #expect(try client.receiveMessage() == .text("prefix /chat/a  v2.chat"))
    }

    @Test func serverSelectsTheOnlyCommonSubprotocol() throws {
        let server = try TestServer(routes: Self.routes) { $0.subprotocols = ["v2.chat", "v1.chat"] }
        var options = BlockingClient.Options()
        options.subprotocols = ["other", "v1.chat"]
        let client = try server.connect("/chat/a", options: options)
        #expect(client.subprotocol == "v1.chat")
    }

    @Test(arguments: [[], ["other"], ["V2.CHAT"]])
    func serverSelectsNoSubprotocolWithoutAnExactMatch(offered: [String]) throws {
        let server = try TestServer(routes: Self.routes) { $0.subprotocols = ["v2.chat", "v1.chat"] }
        var options = BlockingClient.Options()
        options.subprotocols = offered
        let client = try server.connect("/chat/a", options: options)
        #expect(client.subprotocol == nil)
        #expect(client.response["Sec-WebSocket-Protocol"] == nil)
        #expect(try client.receiveMessage() == .text("prefix /chat/a  -"))
    }

    @Test func serverWithoutSubprotocolsIgnoresOffers() throws {
        let server = try TestServer(routes: Self.routes)
        var options = BlockingClient.Options()
        options.subprotocols = ["v1.chat"]
        let client = try server.connect("/echo", options: options)
        #expect(client.subprotocol == nil)
        try client.send(text: "x")
        #expect(try client.receiveMessage() == .text("x"))
    }
}
