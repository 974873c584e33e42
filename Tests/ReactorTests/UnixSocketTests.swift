import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite("Unix-domain sockets: addresses, listening, stale and live socket files")
    struct UnixSocketTests {
        static func temporaryPath(_ name: String) -> String {
            "/tmp/wsgate-test-\(getpid())-\(name).sock"
        }

        @Test func unixAddressKeepsItsPath() throws {
            let address = try SocketAddress(unixPath: "/run/wsgate.sock")
            #expect(address.isUnix && !address.isIPv6 && !address.isWildcard)
            #expect(address.unixPath == "/run/wsgate.sock")
            #expect(address.port == 0)
            #expect(address.description == "unix:/run/wsgate.sock")
            #expect(address == (try SocketAddress(unixPath: "/run/wsgate.sock")))
            #expect(address != (try SocketAddress(unixPath: "/run/other.sock")))
        }

        @Test func unusableUnixPathsAreRefused() {
            #expect(throws: SocketAddress.Error.badUnixPath("")) { try SocketAddress(unixPath: "") }
            let long = "/" + String(repeating: "x", count: 107)
            #expect(throws: SocketAddress.Error.badUnixPath(long)) { try SocketAddress(unixPath: long) }
        }

        @Test func listenerAcceptsAndReportsAnUnnamedPeer() throws {
            let path = Self.temporaryPath("accept")
            let listener = try Socket.listen(unixPath: path, mode: 0o600)
            defer {
                listener.close()
                Socket.removeSocketFile(path)
            }
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(try listener.localAddress.unixPath == path)
            let (client, _) = try Socket.connect(to: try SocketAddress(unixPath: path))
            defer { client.close() }
            guard case .processed(let (accepted, peer)) = try listener.accept() else {
                Issue.record("no connection to accept")
                return
            }
            accepted.close()
            #expect(peer.isUnix && peer.unixPath == "" && peer.description == "unix-socket")
        }

        @Test func staleSocketFileIsReplacedAndLiveOneRefused() throws {
            let path = Self.temporaryPath("stale")
            let first = try Socket.listen(unixPath: path, mode: 0o600)
            // Live: something accepts on it.
            #expect(throws: Socket.UnixListenError.self) { try Socket.listen(unixPath: path, mode: 0o600) }
            first.close()  // the file stays behind, stale
            let second = try Socket.listen(unixPath: path, mode: 0o600)
            second.close()
            Socket.removeSocketFile(path)
            #expect(access(path, F_OK) != 0)
        }
    }
}
