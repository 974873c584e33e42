import Reactor
import WebSocket
import Testing

@testable import Gateway

@Suite("IP addresses and ranges for --trust-proxy")
struct IPAddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"), ("::1", "::1"), ("2001:db8::1", "2001:db8::1"), ("::", "::"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"), ("::ffff:10.1.2.3", "10.1.2.3"),
        ("fe80::1%eth0", "fe80::1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
    ])
    func parsesAndPrints(text: String, expected: String) throws {
        #expect(try #require(IPAddress(text)).description == expected)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1",
                      "unknown", "1.2.3.4 ", "12345::"])
    func refusesWhatIsNoAddress(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func rangesMatchTheirPrefixOnly() throws {
        let ten = try #require(IPRange("10.0.0.0/8"))
        #expect(ten.contains(IPAddress("10.255.0.1")!))
        #expect(!ten.contains(IPAddress("11.0.0.1")!))
        #expect(ten.contains(IPAddress("::ffff:10.0.0.9")!))
        #expect(!ten.contains(IPAddress("::1")!))
        let odd = try #require(IPRange("192.168.1.64/26"))
        #expect(odd.contains(IPAddress("192.168.1.127")!) && !odd.contains(IPAddress("192.168.1.128")!))
        #expect(try #require(IPRange("fd00::/8")).contains(IPAddress("fdab::1")!))
        #expect(try #require(IPRange("::1")).contains(IPAddress("::1")!))
        #expect(try #require(IPRange("0.0.0.0/0")).contains(IPAddress("8.8.8.8")!))
        #expect(IPRange("10.0.0.0/33") == nil && IPRange("10.0.0.0/x") == nil && IPRange("::/129") == nil)
    }
}

@Suite("--trust-proxy: whose X-Forwarded-For counts")
struct TrustedProxiesTests {
    let proxies = try! TrustedProxies(parsing: "10.0.0.0/8, 127.0.0.1,unix")

    @Test func listIsParsedOrRefusedWithTheReason() {
        #expect(self.proxies.ranges.count == 2 && self.proxies.trustsUnixPeers)
        #expect(throws: TrustedProxies.ParseError.self) { try TrustedProxies(parsing: "10.0.0.0/8,nginx") }
        #expect(throws: TrustedProxies.ParseError.self) { try TrustedProxies(parsing: ",") }
    }

    /// The right-most address that is not a trusted proxy is the client; what is left of it may be forged.
    @Test(arguments: [
        (["203.0.113.7"], [String](), "203.0.113.7"),
        (["1.1.1.1, 203.0.113.7"], [], "203.0.113.7"),
        (["1.1.1.1, 203.0.113.7, 10.0.0.2"], [], "203.0.113.7"),
        (["1.1.1.1", "203.0.113.7, 10.0.0.2"], [], "203.0.113.7"),
        (["10.0.0.3, 10.0.0.2"], [], "10.0.0.3"),
        (["[2001:db8::7]:4711"], [], "2001:db8::7"),
        (["198.51.100.1:8080"], [], "198.51.100.1"),
        (["garbage"], ["203.0.113.9"], "203.0.113.9"),
        (["203.0.113.7, garbage, 10.0.0.2"], [], nil),
        ([], ["203.0.113.9"], "203.0.113.9"),
        ([], ["203.0.113.9", "203.0.113.10"], nil),
        ([], [], nil),
    ] as [([String], [String], String?)])
    func clientIsTheRightmostUntrustedHop(forwardedFor: [String], realIP: [String], expected: String?) {
        #expect(self.proxies.clientAddress(forwardedFor: forwardedFor, realIP: realIP)?.description == expected)
    }

    @Test func onlyATrustedPeerIsBelieved() throws {
        let head = HTTPHead(startLine: .request(method: "GET", target: "/", version: "HTTP/1.1"),
                            headers: [("X-Forwarded-For", "203.0.113.7")])
        #expect(self.proxies.clientAddress(peer: try SocketAddress(host: "10.1.1.1", port: 1), head: head)?.description == "203.0.113.7")
        #expect(self.proxies.clientAddress(peer: try SocketAddress(host: "127.0.0.1", port: 1), head: head) != nil)
        #expect(self.proxies.clientAddress(peer: try SocketAddress(host: "192.0.2.50", port: 1), head: head) == nil)
        #expect(self.proxies.clientAddress(peer: try SocketAddress(unixPath: "/tmp/x"), head: head) != nil)
        #expect(TrustedProxies().clientAddress(peer: try SocketAddress(host: "10.1.1.1", port: 1), head: head) == nil)
    }
}

@Suite("--redis URLs")
struct RedisEndpointTests {
    @Test func readsEveryPart() throws {
        #expect(try RedisEndpoint(parsing: "redis://localhost") == RedisEndpoint(host: "localhost"))
        let full = try RedisEndpoint(parsing: "redis://app:p%40ss%3Aword@10.0.0.5:6380/3")
        #expect(full.host == "10.0.0.5" && full.port == 6380 && full.user == "app" && full.password == "p@ss:word" && full.database == 3)
        let password = try RedisEndpoint(parsing: "redis://:secret@[::1]:7000/")
        #expect(password.host == "::1" && password.port == 7000 && password.user == nil && password.password == "secret")
        #expect(try RedisEndpoint(parsing: "redis://secret@h").password == "secret")
        #expect(full.description == "redis://app:***@10.0.0.5:6380/3")
        #expect(full.handshakeCommands == [RESPEncoder.command("AUTH", "app", "p@ss:word"), RESPEncoder.command("SELECT", "3")])
        #expect(RedisEndpoint(host: "h").handshakeCommands.isEmpty)
    }

    @Test(arguments: ["localhost:6379", "rediss://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x",
                      "redis://h:p", "redis://:@h", "redis://u:%zz@h", "redis://[::1", "redis://h?db=1"])
    func refusesWithAReason(url: String) {
        #expect(throws: RedisEndpoint.ParseError.self) { try RedisEndpoint(parsing: url) }
    }
}

@Suite("Room envelopes on Redis")
struct RoomEnvelopeTests {
    @Test func roundTripsTextAndBinary() throws {
        let instance = [UInt8](0..<16)
        for envelope in [RoomEnvelope(instance: instance, opcode: .text, payload: Array("héllo".utf8)),
                         RoomEnvelope(instance: instance, opcode: .binary, payload: [0, 0xFF, 0x0D, 0x0A]),
                         RoomEnvelope(instance: instance, opcode: .binary, payload: [])] {
            #expect(RoomEnvelope(decoding: envelope.encoded()) == envelope)
        }
    }

    @Test func refusesForeignOrInvalidMessages() {
        let text = RoomEnvelope(instance: [UInt8](repeating: 1, count: 16), opcode: .text, payload: [0xFF]).encoded()
        #expect(RoomEnvelope(decoding: text) == nil)
        #expect(RoomEnvelope(decoding: Array("hello from redis-cli".utf8)) == nil)
        #expect(RoomEnvelope(decoding: [0x57, 0x02] + [UInt8](repeating: 1, count: 17)) == nil)
    }
}
