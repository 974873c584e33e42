import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct SocketTests {
        @Test func listenOnPortZeroPicksAPort() throws {
            let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
            defer { listener.close() }
            let address = try listener.localAddress
            #expect(address.host == "127.0.0.1")
            #expect(address.port != 0)
            #expect(try listener.fd.isNonBlocking())
            #expect(try listener.fd.isCloseOnExec())
        }

        @Test func secondBindToSamePortIsEADDRINUSE() throws {
            let first = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
            defer { first.close() }
            let port = try first.localAddress.port
            #expect(throws: SystemError(call: "bind", errno: .addressInUse)) {
                let second = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: port))
                second.close()
            }
        }

        @Test func ipv4AndIPv6ListenOnTheSamePort() throws {
            let v4 = try Socket.listen(on: SocketAddress(host: "0.0.0.0", port: 0))
            defer { v4.close() }
            let port = try v4.localAddress.port
            let v6 = try Socket.listen(on: SocketAddress(host: "::", port: port))
            defer { v6.close() }
            #expect(try v6.localAddress.description == "[::]:\(port)")
        }

        @Test func acceptWithNothingPendingWouldBlock() throws {
            let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
            defer { listener.close() }
            let result = try listener.accept()
            guard case .wouldBlock = result else {
                Issue.record("expected wouldBlock, got \(result)")
                return
            }
        }

        @Test(arguments: ["127.0.0.1", "::1"])
        func loopbackConnectAcceptReadWrite(host: String) throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let listener = try Socket.listen(on: SocketAddress(host: host, port: 0))
            defer { listener.close() }
            let (client, connectedAtOnce) = try Socket.connect(to: listener.localAddress)
            defer { client.close() }

            var server: Socket?
            defer { server?.close() }
            var received: [UInt8] = []
            var clientRegistration: Registration?

            _ = try loop.register(
                listener.fd,
                interest: .readable,
                handler: ClosureHandler { _ in
                    guard case .processed(let (socket, peer)) = try? listener.accept() else { return }
                    #expect(peer == (try? client.localAddress))
                    try? socket.setNoDelay()
                    server = socket
                    try? socket.writeAll(Array("hello".utf8))
                }
            )
            clientRegistration = try loop.register(
                client.fd,
                interest: connectedAtOnce ? .readable : .writable,
                handler: ClosureHandler { readiness in
                    if readiness.contains(.writable) {
                        #expect(throws: Never.self) { try client.finishConnect() }
                        try? loop.modify(clientRegistration!, interest: .readable)
                        return
                    }
                    if case .processed(let bytes) = try? client.readAvailable() {
                        received += bytes
                        if received.count >= 5 { loop.stop() }
                    }
                }
            )
            #expect(try loop.run(limit: .seconds(5)))
            #expect(received == Array("hello".utf8))
            #expect(try server?.remoteAddress == client.localAddress)
            loop.deregister(clientRegistration!)
        }

        @Test func connectToClosedPortIsECONNREFUSED() throws {
            let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
            let address = try listener.localAddress
            listener.close()

            let refused = SystemError(call: "connect", errno: .connectionRefused)
            let socket: Socket
            do {
                let (started, connected) = try Socket.connect(to: address)
                socket = started
                #expect(!connected)
            } catch {
                #expect(error == refused)
                return
            }
            defer { socket.close() }
            let loop = try EventLoop()
            defer { loop.close() }
            var outcome: SystemError?
            let registration = try loop.register(
                socket.fd,
                interest: .writable,
                handler: ClosureHandler { _ in
                    do throws(SystemError) {
                        try socket.finishConnect()
                    } catch {
                        outcome = error
                    }
                    loop.stop()
                }
            )
            #expect(try loop.run(limit: .seconds(5)))
            loop.deregister(registration)
            #expect(outcome == refused)
            #expect(outcome?.description == "connect: ECONNREFUSED: Connection refused")
        }

        /// Chunks go out in order, the first from its offset, at most 64 per call, empty ones included.
        @Test func writevSendsChunksInOrderSkippingIntoTheFirst() throws {
            let (writer, reader) = try Socket.pair()
            defer {
                writer.close()
                reader.close()
            }
            let chunks: [[UInt8]] = (0..<70).map { index in
                index % 9 == 4 ? [] : (0..<(index % 5 + 1)).map { UInt8(truncatingIfNeeded: index * 8 + $0) }
            }
            let result = try writer.writev(chunks[...], skippingFirst: 1)
            let expected = Array(chunks.prefix(64).joined().dropFirst(1))
            #expect(result == .processed(expected.count))
            var bytes = [UInt8](repeating: 0, count: 4096)
            let read = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) }
            #expect(read == .processed(expected.count))
            #expect(Array(bytes.prefix(expected.count)) == expected)
            #expect(try writer.writev(chunks[70...], skippingFirst: 0) == .processed(0))
        }

        @Test func socketsDoNotLeakDescriptors() throws {
            try expectNoDescriptorLeak {
                let loop = try EventLoop()
                let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
                let (client, _) = try Socket.connect(to: listener.localAddress)
                var accepted: Socket?
                for _ in 0..<100 {
                    if case .processed(let (socket, _)) = try listener.accept() {
                        accepted = socket
                        break
                    }
                    usleep(1000)
                }
                #expect(accepted != nil)
                let registration = try loop.register(client.fd, interest: .readable, handler: ClosureHandler { _ in })
                loop.deregister(registration)
                accepted?.close()
                client.close()
                listener.close()
                loop.close()
            }
        }
    }
}
