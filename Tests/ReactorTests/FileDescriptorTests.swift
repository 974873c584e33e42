import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct FileDescriptorTests {
        @Test func emptySocketReadWouldBlock() throws {
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            #expect(try a.readAvailable() == .wouldBlock)
        }

        @Test func readSeesWrittenBytesThenEndOfFile() throws {
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            try b.writeAll([1, 2, 3])
            #expect(try a.readAvailable() == .processed([1, 2, 3]))
            try b.shutdownWrite()
            #expect(try a.readAvailable() == .processed([]))
        }

        @Test func fullSocketWriteWouldBlock() throws {
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            let chunk = [UInt8](repeating: 7, count: 65536)
            var total = 0
            var sawWouldBlock = false
            for _ in 0..<1000 {
                switch try chunk.withUnsafeBytes({ try a.write($0) }) {
                case .processed(let count): total += count
                case .wouldBlock: sawWouldBlock = true
                }
                if sawWouldBlock { break }
            }
            #expect(sawWouldBlock)
            #expect(total > 0)
        }

        @Test func writeToClosedPeerIsEPIPE() throws {
            let (a, b) = try Socket.pair()
            defer { a.close() }
            b.close()
            #expect(throws: SystemError(call: "send", errno: .brokenPipe)) {
                try a.writeAll([1])
            }
        }

        @Test func plainWriteToClosedPipeIsEPIPEBecauseSIGPIPEIsIgnored() throws {
            try EventLoop.ignoreSIGPIPE()
            let pipe = try Pipe()
            defer { pipe.writeEnd.close() }
            pipe.readEnd.close()
            #expect(throws: SystemError(call: "write", errno: .brokenPipe)) {
                _ = try pipe.writeEnd.fd.write([UInt8]([1]))
            }
        }

        @Test func writevGathersBuffersInOrder() throws {
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            let first: [UInt8] = [1, 2]
            let second: [UInt8] = [3, 4, 5]
            let result = try first.withUnsafeBytes { one in
                try second.withUnsafeBytes { two in
                    let vectors = [
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: one.baseAddress), iov_len: one.count),
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: two.baseAddress), iov_len: two.count),
                    ]
                    return try vectors.withUnsafeBufferPointer { try a.writev($0) }
                }
            }
            #expect(result == .processed(5))
            #expect(try b.readAvailable() == .processed([1, 2, 3, 4, 5]))
        }

        @Test func descriptorFlagsCanBeToggled() throws {
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            #expect(try a.fd.isNonBlocking())
            #expect(try a.fd.isCloseOnExec())
            try a.fd.setNonBlocking(false)
            try a.fd.setCloseOnExec(false)
            #expect(try !a.fd.isNonBlocking())
            #expect(try !a.fd.isCloseOnExec())
            try a.fd.setNonBlocking()
            try a.fd.setCloseOnExec()
            #expect(try a.fd.isNonBlocking())
            #expect(try a.fd.isCloseOnExec())
        }
    }
}
