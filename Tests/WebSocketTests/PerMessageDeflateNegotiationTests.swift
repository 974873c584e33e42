import Testing
@testable import WebSocket

extension PerMessageDeflate.Agreement: CustomTestStringConvertible {
    public var testDescription: String {
        "server(nct=\(self.serverNoContextTakeover), \(self.serverMaxWindowBits)) "
            + "client(nct=\(self.clientNoContextTakeover), \(self.clientMaxWindowBits))"
    }
}

/// The server's answer to `header` as a header value, or nil when it declines.
private func answer(_ header: String, _ configuration: PerMessageDeflate.Configuration = .init()) -> String? {
    PerMessageDeflate.negotiate(offers: ExtensionOffer.parse([header]), configuration: configuration)?.response
        .headerValue
}

@Suite("RFC 7692 §7.1 Negotiation, server side")
struct DeflateServerNegotiationTests {
    /// Offer → response with the default configuration (no server context takeover, 15 bits).
    static let accepted: [(String, String)] = [
        ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
        ("PerMessage-Deflate", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_max_window_bits=10",
         "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"),
        ("permessage-deflate; client_max_window_bits=\"9\"",
         "permessage-deflate; server_no_context_takeover; client_max_window_bits=9"),
        ("permessage-deflate; client_max_window_bits=8",
         "permessage-deflate; server_no_context_takeover; client_max_window_bits=8"),
        ("permessage-deflate; server_max_window_bits=10",
         "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=15",
         "permessage-deflate; server_no_context_takeover; server_max_window_bits=15"),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_no_context_takeover",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        ("permessage-deflate;server_no_context_takeover;client_no_context_takeover;"
            + "server_max_window_bits=12;client_max_window_bits=11",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            + "server_max_window_bits=12; client_max_window_bits=11"),
        // Several offers: the first acceptable wins.
        ("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=11, permessage-deflate",
         "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
         "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=9",
         "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
    ]

    @Test(arguments: accepted)
    func acceptsOffer(offer: String, response: String) {
        #expect(answer(offer) == response)
    }

    /// Each makes its only offer unacceptable, so permessage-deflate is declined.
    static let declined = [
        "permessage-deflate; server_max_window_bits=8",  // zlib cannot compress with an 8-bit window
        "permessage-deflate; server_max_window_bits",  // needs a value
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=nine",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=\"10",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; mystery_parameter",
        "permessage-deflate;",
        "permessage-deflate; =10",
        "x-webkit-deflate-frame",
        "",
    ]

    @Test(arguments: declined)
    func declinesOffer(offer: String) {
        #expect(answer(offer) == nil)
    }

    @Test func agreesOnWhatItAnswers() throws {
        let offers = ExtensionOffer.parse([
            "permessage-deflate; client_max_window_bits=12; server_max_window_bits=10; client_no_context_takeover",
        ])
        let (agreement, _) = try #require(PerMessageDeflate.negotiate(offers: offers, configuration: .init()))
        #expect(agreement == .init(serverNoContextTakeover: true, clientNoContextTakeover: true,
                                   serverMaxWindowBits: 10, clientMaxWindowBits: 12))
    }

    @Test func withContextTakeoverConfiguredItDoesNotAnnounceReset() {
        #expect(answer("permessage-deflate", .init(contextTakeover: true)) == "permessage-deflate")
        // …unless the client asks for it: a server accepting it MUST say so (§7.1.1.1).
        #expect(answer("permessage-deflate; server_no_context_takeover", .init(contextTakeover: true))
            == "permessage-deflate; server_no_context_takeover")
    }

    @Test func configuredWindowsAndClientReset() {
        let configuration = PerMessageDeflate.Configuration(windowBits: 11, peerWindowBits: 10,
                                                            peerNoContextTakeover: true)
        #expect(answer("permessage-deflate; client_max_window_bits", configuration)
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                + "server_max_window_bits=11; client_max_window_bits=10")
        // Without client_max_window_bits in the offer the server may not limit the client's window.
        #expect(answer("permessage-deflate; client_max_window_bits=12", configuration)?
            .hasSuffix("client_max_window_bits=10") == true)
        #expect(answer("permessage-deflate", configuration)
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11")
        #expect(answer("permessage-deflate; server_max_window_bits=13", configuration)?
            .contains("server_max_window_bits=11") == true)
    }

    @Test func handshakeAnswersOnlyWhenCompressionIsOn() throws {
        var request = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"), headers: [
            ("Host", "example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=8"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
        ])
        let on = try ServerHandshake().accept(request, compression: .init()).get()
        #expect(on.response["Sec-WebSocket-Extensions"] == "permessage-deflate; server_no_context_takeover")
        #expect(on.deflate == .init(serverNoContextTakeover: true))
        let off = try ServerHandshake().accept(request).get()
        #expect(off.response["Sec-WebSocket-Extensions"] == nil)
        #expect(off.deflate == nil)
        request.headers.removeAll { $0.name == "Sec-WebSocket-Extensions" }
        let none = try ServerHandshake().accept(request, compression: .init()).get()
        #expect(none.deflate == nil)
    }
}

@Suite("RFC 7692 §7.1 Negotiation, client side")
struct DeflateClientNegotiationTests {
    static let client = PerMessageDeflate.Configuration(contextTakeover: true)

    @Test func offersClientMaxWindowBits() {
        #expect(PerMessageDeflate.offer(configuration: Self.client).headerValue
            == "permessage-deflate; client_max_window_bits")
        #expect(PerMessageDeflate.offer(configuration: .init(windowBits: 12, peerWindowBits: 10,
                                                             peerNoContextTakeover: true)).headerValue
            == "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
                + "server_max_window_bits=10; client_max_window_bits=12")
    }

    static let answers: [(String, PerMessageDeflate.Agreement?)] = [
        ("permessage-deflate", .init()),
        ("permessage-deflate; server_no_context_takeover", .init(serverNoContextTakeover: true)),
        ("permessage-deflate; client_no_context_takeover", .init(clientNoContextTakeover: true)),
        ("permessage-deflate; server_max_window_bits=10", .init(serverMaxWindowBits: 10)),
        ("permessage-deflate; client_max_window_bits=9", .init(clientMaxWindowBits: 9)),
        ("permessage-deflate; client_max_window_bits=8", .init(clientMaxWindowBits: 8)),
        ("permessage-deflate; client_max_window_bits", nil),  // a response's value is required
        ("permessage-deflate; server_max_window_bits", nil),
        ("permessage-deflate; mystery", nil),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", nil),
        ("x-other", nil),
    ]

    @Test(arguments: answers)
    func checksAnswer(response: String, expected: PerMessageDeflate.Agreement?) throws {
        let element = try #require(ExtensionOffer.parse([response]).first)
        #expect(PerMessageDeflate.agreement(accepting: element, offered: Self.client) == expected)
    }

    @Test func holdsServerToWhatWasOffered() throws {
        let configuration = PerMessageDeflate.Configuration(windowBits: 12, peerWindowBits: 10,
                                                            peerNoContextTakeover: true)
        func check(_ response: String) -> PerMessageDeflate.Agreement? {
            PerMessageDeflate.agreement(accepting: ExtensionOffer.parse([response])[0], offered: configuration)
        }
        #expect(check("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
            == .init(serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12))
        #expect(check("permessage-deflate; server_max_window_bits=10") == nil)  // reset was asked for
        #expect(check("permessage-deflate; server_no_context_takeover") == nil)  // window was limited
        #expect(check("permessage-deflate; server_no_context_takeover; server_max_window_bits=11") == nil)
        #expect(check("permessage-deflate; server_no_context_takeover; server_max_window_bits=9; "
                      + "client_max_window_bits=13") == nil)
    }

    @Test func handshakeValidatesExtensionsAgainstTheOffer() throws {
        let handshake = ClientHandshake(host: "example.com", keyBytes: Array(repeating: 1, count: 16),
                                        compression: Self.client)
        #expect(handshake.request["Sec-WebSocket-Extensions"] == "permessage-deflate; client_max_window_bits")
        func response(_ extensions: [String]) -> HTTPHead {
            HTTPHead(startLine: .response(version: "HTTP/1.1", status: 101, reason: "Switching Protocols"), headers: [
                ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", ServerHandshake.acceptKey(for: handshake.key)),
            ] + extensions.map { ("Sec-WebSocket-Extensions", $0) })
        }
        #expect(try handshake.validateResponse(response([])).deflate == nil)
        #expect(try handshake.validateResponse(response(["permessage-deflate; server_no_context_takeover"])).deflate
            == .init(serverNoContextTakeover: true))
        #expect(throws: ClientHandshakeError.self) {
            try handshake.validateResponse(response(["permessage-deflate", "permessage-deflate"]))
        }
        #expect(throws: ClientHandshakeError.self) {
            try handshake.validateResponse(response(["permessage-deflate; client_max_window_bits"]))
        }
        let plain = ClientHandshake(host: "example.com", keyBytes: Array(repeating: 1, count: 16))
        #expect(plain.request["Sec-WebSocket-Extensions"] == nil)
        #expect(throws: ClientHandshakeError.self) { try plain.validateResponse(response(["permessage-deflate"])) }
    }
}
