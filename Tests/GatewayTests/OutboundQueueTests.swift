import Reactor
import Testing

@testable import Gateway

@Suite("OutboundQueue: what may pass what")
struct OutboundQueueTests {
    /// Writes `queue` to one end of a socket pair and returns what the other end reads.
    static func written(_ queue: inout OutboundQueue) throws -> [UInt8] {
        let (writer, reader) = try Socket.pair()
        defer {
            writer.close()
            reader.close()
        }
        _ = try queue.write(to: PlainTransport(writer))
        var bytes = [UInt8](repeating: 0, count: 4096)
        let result = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) }
        guard case .processed(let count) = result else { return [] }
        return Array(bytes[0..<count])
    }

    @Test func urgentFramesGoAheadOfDataButBehindTheHTTPResponse() throws {
        var queue = OutboundQueue()
        queue.appendHTTPResponse([1, 1])
        queue.append([4, 4])
        queue.appendUrgent([2])
        queue.appendUrgent([3])
        queue.append([5])
        #expect(queue.count == 7)
        #expect(try Self.written(&queue) == [1, 1, 2, 3, 4, 4, 5])
        #expect(queue.isEmpty)
    }

    /// Once the response is written, urgent frames go first again, still in the order queued.
    @Test func urgentFramesKeepTheirOrderOnceTheResponseIsOut() throws {
        var queue = OutboundQueue()
        queue.appendHTTPResponse([1])
        #expect(try Self.written(&queue) == [1])
        queue.append([4])
        queue.appendUrgent([2])
        queue.appendUrgent([3])
        #expect(try Self.written(&queue) == [2, 3, 4])
    }

    /// A slow consumer's queue is cut back to what must still go: never the unwritten response, nor
    /// control frames.
    @Test func droppingUnstartedChunksKeepsTheResponseAndControlFrames() throws {
        var queue = OutboundQueue()
        queue.appendHTTPResponse([1])
        queue.append([9, 9])
        queue.appendUrgent([2])
        queue.append([9])
        queue.dropUnstarted()
        #expect(queue.count == 2)
        #expect(try Self.written(&queue) == [1, 2])
    }
}
