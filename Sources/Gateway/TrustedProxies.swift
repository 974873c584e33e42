import Reactor
import WebSocket

/// The proxies whose word wsgate takes for the client's address (`--trust-proxy`).
///
/// Behind nginx every connection comes from nginx, and the client's address is in the headers it
/// adds. Those headers are anyone's to write, so they count only on a connection from a trusted
/// proxy. Then the client is the right-most address of `X-Forwarded-For` that is not itself a
/// trusted proxy (each proxy appends the address it saw, so the entries left of the first
/// untrusted one could be made up by the client); with no usable `X-Forwarded-For`, `X-Real-IP`.
/// An entry that is not an IP address ends the walk, and that header is not used.
///
/// Ranges are CIDRs or single addresses; `unix` trusts peers on a Unix socket (a proxy on the
/// same host). The client's port is not forwarded by either header, so REMOTE_PORT is left empty
/// for a forwarded client rather than given the proxy's port.
public struct TrustedProxies: Sendable, Equatable {
    var ranges: [IPRange] = []
    var trustsUnixPeers = false

    public init() {}

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// `10.0.0.0/8,192.168.1.7,::1,unix`
    public init(parsing list: String) throws(ParseError) {
        for item in list.split(separator: ",") {
            let entry = String(Self.trimmed(item))
            if entry == "unix" {
                self.trustsUnixPeers = true
            } else if let range = IPRange(entry) {
                self.ranges.append(range)
            } else {
                throw ParseError(description: "'\(entry)' is not an address, a CIDR range (10.0.0.0/8, fd00::/8) or unix")
            }
        }
        guard !self.ranges.isEmpty || self.trustsUnixPeers else { throw ParseError(description: "no proxy named") }
    }

    public var isEmpty: Bool { self.ranges.isEmpty && !self.trustsUnixPeers }

    func trusts(_ address: IPAddress) -> Bool {
        self.ranges.contains { $0.contains(address) }
    }

    func trusts(peer: SocketAddress) -> Bool {
        if peer.isUnix { return self.trustsUnixPeers }
        return IPAddress(peer.host).map { self.trusts($0) } ?? false
    }

    /// The client's address for a request from `peer`, when `peer` is a trusted proxy and the
    /// headers name one; nil otherwise (the peer is the client).
    func clientAddress(peer: SocketAddress, head: HTTPHead) -> IPAddress? {
        guard !self.isEmpty, self.trusts(peer: peer) else { return nil }
        return self.clientAddress(forwardedFor: head.values(of: "X-Forwarded-For"), realIP: head.values(of: "X-Real-IP"))
    }

    /// The decision on the header values alone (every `X-Forwarded-For` field, in order).
    func clientAddress(forwardedFor: [String], realIP: [String]) -> IPAddress? {
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
        if !hops.isEmpty {
            var leftmost: IPAddress?
            walk: for hop in hops.reversed() {
                guard let address = Self.address(in: hop) else {
                    leftmost = nil
                    break walk
                }
                if !self.trusts(address) { return address }
                leftmost = address
            }
            // Every hop was a trusted proxy: the first of them is as close to the client as known.
            if let leftmost { return leftmost }
        }
        if realIP.count == 1, let address = Self.address(in: Substring(realIP[0])) { return address }
        return nil
    }

    private static func trimmed(_ text: Substring) -> Substring {
        var slice = text
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }

    /// An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`.
    static func address(in hop: Substring) -> IPAddress? {
        var text = Self.trimmed(hop)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            text = text[..<colon]
        }
        return IPAddress(text)
    }
}
