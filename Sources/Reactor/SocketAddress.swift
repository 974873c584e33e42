import CGlibc
import Glibc

/// An IPv4 or IPv6 address with a port, or a Unix-domain socket's path.
///
/// Holds the C `sockaddr_in` / `sockaddr_in6` / `sockaddr_un` itself, so passing it to `bind` or
/// `connect` costs nothing. A Unix address has no port (0) and may be unnamed (a client's end).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline
    enum Storage: Sendable {
        case v4(sockaddr_in)
        case v6(sockaddr_in6)
        /// The path's bytes and the length the kernel gave (an unnamed socket has no path).
        case unix(sockaddr_un, socklen_t)
    }

    @usableFromInline
    var storage: Storage

    /// Why a host could not be turned into an address.
    public enum Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        /// The text is neither a dotted IPv4 address nor an IPv6 address.
        case notNumeric(String)
        /// getaddrinfo failed; `message` is gai_strerror's text.
        case resolution(host: String, code: CInt, message: String)
        /// A Unix socket path longer than `sockaddr_un` holds (107 bytes on Linux), or empty.
        case badUnixPath(String)

        public var description: String {
            switch self {
            case .badUnixPath(let path):
                path.isEmpty ? "an empty Unix socket path" : "Unix socket path longer than 107 bytes: \(path)"
            case .notNumeric(let host): "not a numeric IP address: \(host)"
            case .resolution(let host, _, let message): "getaddrinfo: \(host): \(message)"
            }
        }
    }

    /// An address from a numeric literal: "127.0.0.1", "0.0.0.0", "::1", "::". Never blocks.
    /// - Throws: `SocketAddress.Error.notNumeric` for anything else (including names).
    ///
    /// The corresponding C function is `inet_pton(3)`.
    public init(host: String, port: UInt16) throws(SocketAddress.Error) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            self.storage = .v4(v4)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            self.storage = .v6(v6)
            return
        }
        throw .notNumeric(host)
    }

    /// The address of the Unix-domain socket at `path` (a file system path; no abstract names).
    /// - Throws: `SocketAddress.Error.badUnixPath` when it is empty or does not fit.
    public init(unixPath path: String) throws(SocketAddress.Error) {
        var address = sockaddr_un()
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else { throw .badUnixPath(path) }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1
        self.storage = .unix(address, socklen_t(length))
    }

    /// Wraps what the kernel returned; nil for a family other than AF_INET, AF_INET6 and AF_UNIX.
    init?(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        switch CInt(address.pointee.sa_family) {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            self.storage = .v4(UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self))
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            self.storage = .v6(UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self))
        case AF_UNIX:
            var unix = sockaddr_un()
            let count = min(Int(length), MemoryLayout<sockaddr_un>.size)
            withUnsafeMutableBytes(of: &unix) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: count)) }
            self.storage = .unix(unix, socklen_t(count))
        default:
            return nil
        }
    }

    /// Looks `host` up, numeric or by name, and returns every TCP address for it.
    ///
    /// This BLOCKS the calling thread for as long as DNS takes: use it for the client side and
    /// at start-up, never on a loop thread that serves connections.
    /// - Throws: `SocketAddress.Error.resolution` with gai_strerror's text.
    ///
    /// The corresponding C function is `getaddrinfo(3)`.
    public static func resolve(host: String, port: UInt16) throws(SocketAddress.Error) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_protocol = CInt(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &list)
        guard code == 0 else {
            throw .resolution(host: host, code: code, message: String(cString: gai_strerror(code)))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var next = list
        while let entry = next {
            if let address = entry.pointee.ai_addr, let wrapped = SocketAddress(address, length: entry.pointee.ai_addrlen) {
                addresses.append(wrapped)
            }
            next = entry.pointee.ai_next
        }
        return addresses
    }

    /// The addresses to listen on for `host`, as a server's `--address` names them: a numeric
    /// address as it is, IPv6 optionally in brackets as URLs write it (`[::1]`), or every address
    /// a name resolves to (`localhost`), in getaddrinfo's order without duplicates.
    ///
    /// A name BLOCKS the calling thread for as long as resolution takes: call this at start-up.
    /// Names are resolved without `AI_ADDRCONFIG`, which would drop `::1` on a host whose only
    /// IPv6 address is the loopback one.
    /// - Throws: `SocketAddress.Error.resolution` with gai_strerror's text.
    ///
    /// The corresponding C function is `getaddrinfo(3)` (`inet_pton(3)` for numeric addresses).
    public static func listening(on host: String, port: UInt16) throws(SocketAddress.Error) -> [SocketAddress] {
        var host = Substring(host)
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if let numeric = try? SocketAddress(host: String(host), port: port) { return [numeric] }
        var seen = Set<SocketAddress>()
        return try Self.resolve(host: String(host), port: port).filter { seen.insert($0).inserted }
    }

    /// Whether this is a wildcard address (`0.0.0.0` or `::`): listening on it serves every
    /// address of the host in its family.
    public var isWildcard: Bool {
        switch self.storage {
        case .v4(let address):
            return address.sin_addr.s_addr == 0
        case .v6(var address):
            return withUnsafeBytes(of: &address.sin6_addr) { bytes in bytes.allSatisfy { $0 == 0 } }
        case .unix:
            return false
        }
    }

    /// Whether this is an AF_UNIX address.
    public var isUnix: Bool {
        if case .unix = self.storage { return true }
        return false
    }

    /// A Unix socket's path; "" for an unnamed one (a client's end), nil for an IP address.
    public var unixPath: String? {
        guard case .unix(var address, let length) = self.storage else { return nil }
        let count = max(0, Int(length) - MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!)
        return withUnsafeBytes(of: &address.sun_path) { bytes in
            String(decoding: bytes.prefix(count).prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Whether this is an AF_INET6 address.
    public var isIPv6: Bool {
        if case .v6 = self.storage { return true }
        return false
    }

    /// The port, in host byte order.
    public var port: UInt16 {
        switch self.storage {
        case .v4(let address): UInt16(bigEndian: address.sin_port)
        case .v6(let address): UInt16(bigEndian: address.sin6_port)
        case .unix: 0
        }
    }

    /// The numeric host, "127.0.0.1" or "::1"; a Unix socket's path.
    /// The corresponding C function is `inet_ntop(3)`.
    public var host: String {
        if let path = self.unixPath { return path }
        // INET6_ADDRSTRLEN is 46; the buffer lives on the stack.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
            switch self.storage {
            case .v4(var address):
                _ = inet_ntop(AF_INET, &address.sin_addr, text.baseAddress, 64)
            case .v6(var address):
                _ = inet_ntop(AF_INET6, &address.sin6_addr, text.baseAddress, 64)
            case .unix:
                text[0] = 0
            }
            return String(cString: text.baseAddress!)
        }
    }

    /// "127.0.0.1:8080", "[::1]:8080", "unix:/run/wsgate.sock", or "unix-socket" for an unnamed one.
    /// An IP address is written into one stack buffer, as every session's log context starts with
    /// its peer's address.
    public var description: String {
        if let path = self.unixPath { return path.isEmpty ? "unix-socket" : "unix:\(path)" }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 80) { text in
            var length = 0
            text.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 80) { chars in
                switch self.storage {
                case .v4(let address):
                    // Four decimal numbers by hand: glibc's inet_ntop goes through sprintf.
                    let octets = UInt32(bigEndian: address.sin_addr.s_addr)
                    for shift in stride(from: 24, through: 0, by: -8) {
                        let octet = Int(octets >> UInt32(shift) & 0xFF)
                        if octet >= 100 { chars[length] = CChar(48 + octet / 100); length += 1 }
                        if octet >= 10 { chars[length] = CChar(48 + octet / 10 % 10); length += 1 }
                        chars[length] = CChar(48 + octet % 10)
                        length += 1
                        if shift > 0 { chars[length] = 0x2E; length += 1 }  // "."
                    }
                case .v6(var address):
                    chars[0] = 0x5B  // "["
                    _ = inet_ntop(AF_INET6, &address.sin6_addr, chars + 1, 64)
                    length = strlen(chars + 1) + 1
                    chars[length] = 0x5D  // "]"
                    length += 1
                case .unix:
                    preconditionFailure("handled above")
                }
            }
            text[length] = UInt8(ascii: ":")
            length += 1
            var port = Int(self.port), digits = 1
            var rest = port / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            for index in stride(from: length + digits - 1, through: length, by: -1) {
                text[index] = UInt8(ascii: "0") + UInt8(port % 10)
                port /= 10
            }
            length += digits
            return String(decoding: UnsafeBufferPointer(rebasing: text[0..<length]), as: UTF8.self)
        }
    }

    @usableFromInline
    var family: CInt {
        switch self.storage {
        case .v4: AF_INET
        case .v6: AF_INET6
        case .unix: AF_UNIX
        }
    }

    /// Lends the C form to `bind`, `connect` and friends.
    @inlinable
    func withSockAddr<R, E: Swift.Error>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R
    ) throws(E) -> R {
        switch self.storage {
        case .v4(var address):
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(E) -> R in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var address):
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(E) -> R in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        case .unix(var address, let length):
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(E) -> R in
                    try body(raw, length)
                }
            }
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case (.v4(let a), .v4(let b)):
            a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr
        case (.v6(var a), .v6(var b)):
            a.sin6_port == b.sin6_port && a.sin6_scope_id == b.sin6_scope_id
                && memcmp(&a.sin6_addr, &b.sin6_addr, MemoryLayout<in6_addr>.size) == 0
        case (.unix, .unix):
            lhs.unixPath == rhs.unixPath
        default:
            false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self.storage {
        case .v4(let address):
            hasher.combine(4)
            hasher.combine(address.sin_addr.s_addr)
            hasher.combine(address.sin_port)
        case .v6(var address):
            hasher.combine(6)
            withUnsafeBytes(of: &address.sin6_addr) { hasher.combine(bytes: $0) }
            hasher.combine(address.sin6_port)
            hasher.combine(address.sin6_scope_id)
        case .unix:
            hasher.combine(0)
            hasher.combine(self.unixPath)
        }
    }
}

extension SocketAddress {
    /// Reads a socket's own or peer address into stack storage.
    static func fetch(
        _ name: StaticString,
        _ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
    ) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let address = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SystemError) -> SocketAddress? in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(SystemError) -> SocketAddress? in
                _ = try systemCall(name) { call(raw, &length) }
                return SocketAddress(raw, length: length)
            }
        }
        guard let address else {
            throw SystemError(call: name.description, errno: Errno(rawValue: EAFNOSUPPORT))
        }
        return address
    }
}
