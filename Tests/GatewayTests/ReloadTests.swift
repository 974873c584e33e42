import Testing

@testable import Gateway

/// `GatewayServer.reload` in-process: what it keeps (listeners) and what it replaces (routes, the
/// defaults of sessions not yet routed). The wire-level behaviour is in Tests/Interop/test_config.py.
@Suite("Reload")
struct ReloadTests {
    static func configuration(_ lines: LogLines) -> GatewayServer.Configuration {
        var configuration = GatewayServer.Configuration()
        configuration.addresses = ["127.0.0.1"]
        configuration.port = 0
        configuration.routes = [Route("/a", .echo)]
        configuration.log = Log(level: .info) { line in lines.append(line) }
        return configuration
    }

    @Test func serverKeepsItsListenerWhenTheReloadAsksForAnotherAndSaysSo() throws {
        let lines = LogLines()
        let first = Self.configuration(lines)
        let server = try GatewayServer(configuration: first)
        defer { server.shutdownHandle.stop(); try? server.run() }
        var next = first
        next.port = 1
        next.addresses = ["127.0.0.2"]
        next.maxMessageSize = 100
        next.routes = [Route("/a", .echo), Route("/b", .echo)]
        server.reload(next)
        #expect(server.configuration.port == 0 && server.configuration.addresses == ["127.0.0.1"])
        #expect(server.router.route(for: "/b") != nil)
        #expect(server.defaultSettings.maxMessageSize == 100)
        let log = lines.all.joined(separator: "\n")
        #expect(log.contains("event=config.listener_unchanged"), "\(log)")
        #expect(log.contains("routes_added=/b") && log.contains("options_changed=max-message-size"), "\(log)")
    }

    @Test func routeSettingsOverrideTheConfigurationAndKeepTheRouteCompression() {
        var configuration = GatewayServer.Configuration()
        configuration.maxMessageSize = 1000
        var own = RouteSettings(configuration)
        own.maxMessageSize = 10
        own.environment = ["A": "1"]
        let served = ServedRoute(Route("/x", .echo, compression: .init(), settings: own), defaults: configuration)
        #expect(served.settings.maxMessageSize == 10 && served.settings.environment == ["A": "1"])
        #expect(served.settings.compression != nil)
        let plain = ServedRoute(Route("/y", .echo), defaults: configuration)
        #expect(plain.settings.maxMessageSize == 1000 && plain.settings.compression == nil)
        #expect(served.settings.changedOptions(since: plain.settings) == ["max-message-size", "compression", "env"])
    }
}
