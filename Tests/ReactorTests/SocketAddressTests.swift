import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct SocketAddressTests {
        @Test(arguments: [
            ("127.0.0.1", UInt16(8080), "127.0.0.1:8080"),
            ("0.0.0.0", UInt16(0), "0.0.0.0:0"),
            ("::1", UInt16(8080), "[::1]:8080"),
            ("::", UInt16(443), "[::]:443"),
            ("2001:db8::1", UInt16(1), "[2001:db8::1]:1"),
            ("255.255.255.255", UInt16(65535), "255.255.255.255:65535"),
            ("10.0.100.9", UInt16(10), "10.0.100.9:10"),
        ])
        func numericAddressesRoundTrip(host: String, port: UInt16, text: String) throws {
            let address = try SocketAddress(host: host, port: port)
            #expect(address.description == text)
            #expect(address.port == port)
            #expect(address.host == host)
        }

        @Test func namesAreNotNumeric() {
            #expect(throws: SocketAddress.Error.notNumeric("localhost")) {
                try SocketAddress(host: "localhost", port: 80)
            }
            #expect(throws: SocketAddress.Error.notNumeric("1.2.3.256")) {
                try SocketAddress(host: "1.2.3.256", port: 80)
            }
        }

        @Test func equalityComparesFamilyHostAndPort() throws {
            #expect(try SocketAddress(host: "127.0.0.1", port: 1) == SocketAddress(host: "127.0.0.1", port: 1))
            #expect(try SocketAddress(host: "127.0.0.1", port: 1) != SocketAddress(host: "127.0.0.1", port: 2))
            #expect(try SocketAddress(host: "::1", port: 1) != SocketAddress(host: "127.0.0.1", port: 1))
            #expect(try Set([SocketAddress(host: "::1", port: 1), SocketAddress(host: "::1", port: 1)]).count == 1)
        }

        @Test func resolveFindsLoopbackNumerically() throws {
            let addresses = try SocketAddress.resolve(host: "127.0.0.1", port: 9)
            #expect(addresses == [try SocketAddress(host: "127.0.0.1", port: 9)])
        }

        @Test(arguments: [("[::1]", "[::1]:80"), ("::1", "[::1]:80"), ("127.0.0.1", "127.0.0.1:80"),
                          ("[127.0.0.1]", "127.0.0.1:80"), ("0.0.0.0", "0.0.0.0:80")])
        func listeningTakesNumericAddressesWithOrWithoutBrackets(host: String, text: String) throws {
            #expect(try SocketAddress.listening(on: host, port: 80).map(\.description) == [text])
        }

        /// A name gives every address it resolves to, once each: /etc/hosts may list `localhost`
        /// for 127.0.0.1 only or for ::1 too, so the expectation comes from getaddrinfo itself.
        @Test func listeningResolvesNamesToEveryAddressOnce() throws {
            let addresses = try SocketAddress.listening(on: "localhost", port: 80)
            #expect(!addresses.isEmpty)
            #expect(Set(addresses).count == addresses.count)
            #expect(Set(addresses) == Set(try SocketAddress.resolve(host: "localhost", port: 80)))
            #expect(addresses.allSatisfy { $0.port == 80 && !$0.isWildcard })
        }

        @Test func listeningReportsAnUnknownName() {
            #expect(throws: SocketAddress.Error.self) {
                _ = try SocketAddress.listening(on: "no-such-host.invalid", port: 80)
            }
        }

        @Test func wildcardsAreTheUnspecifiedAddresses() throws {
            #expect(try SocketAddress(host: "0.0.0.0", port: 1).isWildcard)
            #expect(try SocketAddress(host: "::", port: 1).isWildcard)
            #expect(try !SocketAddress(host: "127.0.0.1", port: 1).isWildcard)
            #expect(try !SocketAddress(host: "::1", port: 1).isWildcard)
        }

        @Test func resolveReportsFailure() {
            #expect {
                _ = try SocketAddress.resolve(host: "no such host.invalid", port: 9)
            } throws: { error in
                guard case .resolution(let host, _, _) = error as? SocketAddress.Error else { return false }
                return host == "no such host.invalid"
            }
        }
    }
}
