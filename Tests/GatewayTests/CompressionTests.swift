import Client
import Foundation
import Testing
import WebSocket

@testable import Gateway
@testable import wsgate

@Suite("Compression flags")
struct CompressionFlagTests {
    private func routes(_ arguments: [String]) throws(OptionParser.Failure) -> [Route] {
        guard case .serve(let configuration) = try parseCommandLine(arguments + ["--route", "/a=echo",
                                                                                 "--route", "/b=broadcast"])
        else { throw OptionParser.Failure(description: "not a serve command") }
        return configuration.routes
    }

    @Test func offByDefault() throws {
        #expect(try self.routes([]).allSatisfy { $0.compression == nil })
    }

    @Test func everyRouteGetsTheSettings() throws {
        let routes = try self.routes([
            "--compression", "--compression-level", "1", "--compression-threshold", "1KiB",
            "--compression-window-bits", "10", "--compression-client-window-bits", "9",
            "--compression-context-takeover", "--compression-client-no-context-takeover",
            "--compression-memory-level", "4",
        ])
        let expected = PerMessageDeflate.Configuration(level: 1, memoryLevel: 4, windowBits: 10, peerWindowBits: 9,
                                                       contextTakeover: true, peerNoContextTakeover: true,
                                                       threshold: 1024)
        #expect(routes.map(\.compression) == [expected, expected])
        #expect(try self.routes(["--compression", "--compression-threshold", "0"])[0].compression?.threshold == 0)
    }

    @Test(arguments: [
        (["--compression-level", "3"], "--compression-level needs --compression"),
        (["--compression", "--compression-level", "0"], "--compression-level: '0' is not a number in 1...9"),
        (["--compression", "--compression-window-bits", "8"],
         "--compression-window-bits: '8' is not a number in 9...15"),
        (["--compression", "--compression-client-window-bits", "16"],
         "--compression-client-window-bits: '16' is not a number in 9...15"),
    ])
    func refusesBadSettings(arguments: [String], message: String) {
        do {
            _ = try self.routes(arguments)
            Issue.record("\(arguments) accepted")
        } catch {
            #expect(error.description == message)
        }
    }
}

@Suite("Compression in the gateway")
struct GatewayCompressionTests {
    static let everything = PerMessageDeflate.Configuration(threshold: 0)

    @Test func echoInflatesAndAnswersCompressed() throws {
        let server = try TestServer(routes: [Route("/echo", .echo, compression: Self.everything)])
        let client = try RawClient(port: server.port)
        var rest = try client.upgradeSending(Array(upgradeRequest(
            "/echo", extra: "Sec-WebSocket-Extensions: permessage-deflate\r\n").utf8))
        // RFC 7692 §7.2.3.1's "Hello", masked. Its answer goes uncompressed: without context
        // takeover, 7 compressed bytes do not beat 5.
        try client.send(clientFrame(0xC1, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
        while rest.count < 7 { rest += try client.receive() }
        #expect(rest == [0x81, 0x05] + Array("Hello".utf8))
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: true)
        let peer = Connection(side: .client, extensions: [PerMessageDeflate(side: .client, agreement: agreement,
                                                                            configuration: Self.everything)])
        let long = String(repeating: "a longer message compresses ", count: 20)
        try peer.send(text: long)
        for case .bytes(let bytes) in peer.takeOutput() { try client.send(bytes) }
        var answer: [UInt8] = []
        var events: [Connection.Event] = []
        while events.isEmpty {
            let chunk = try client.receive()
            answer += chunk
            peer.receive(chunk)
            events = peer.takeEvents()
        }
        #expect(events == [.text(long)])
        #expect(answer.first == 0xC1)
        #expect(answer.count < long.utf8.count / 4)
    }

    @Test func blockingClientOffersAndUsesCompression() throws {
        let server = try TestServer(routes: [Route("/echo", .echo, compression: .init())])
        var options = BlockingClient.Options()
        options.compression = .clientDefaults
        let client = try server.connect("/echo", options: options)
        #expect(client.deflate?.agreement == .init(serverNoContextTakeover: true))
        let text = String(repeating: "both ways compressed ", count: 100)
        for _ in 0..<3 {
            try client.send(text: text)
            #expect(try client.receiveMessage() == .text(text))
        }
        let plain = try server.connect("/echo")
        #expect(plain.deflate == nil)
        #expect(plain.response["Sec-WebSocket-Extensions"] == nil)
    }

    @Test func fanoutCompressesOncePerKeyAndLeavesTakeoverToTheSession() {
        let shared = PerMessageDeflate.SharedStreams()
        let reset = PerMessageDeflate.Agreement(serverNoContextTakeover: true)
        let one = PerMessageDeflate(side: .server, agreement: reset, configuration: Self.everything, shared: shared)
        let two = PerMessageDeflate(side: .server, agreement: reset, configuration: Self.everything, shared: shared)
        let small = PerMessageDeflate(side: .server, agreement: .init(serverNoContextTakeover: true,
                                                                      serverMaxWindowBits: 9),
                                      configuration: Self.everything, shared: shared)
        let takeover = PerMessageDeflate(side: .server, agreement: .init(),
                                         configuration: .init(contextTakeover: true, threshold: 0))
        let message = FanoutMessage(.text(String(repeating: "compress me once ", count: 50)))
        let first = message.frame(for: one)
        #expect(first?[0] == 0xC1)
        #expect(message.frame(for: two) == first)
        #expect(message.frame(for: small)?[0] == 0xC1)
        #expect(message.frame(for: takeover) == nil)
        #expect(message.frame(for: nil)?[0] == 0x81)
        #expect(message.compressions == 2)
    }
}
