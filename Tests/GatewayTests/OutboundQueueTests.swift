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

    /// A payload queued apart from its header is never separated from it: an urgent frame goes before
    /// the header while nothing of the frame is written, after the payload once the header is.
    @Test func urgentFramesNeverSplitAHeaderFromItsPayload() throws {
        var queue = OutboundQueue()
        queue.append(header: [1], payload: [2, 2])
        queue.appendUrgent([3])
        #expect(try Self.written(&queue) == [3, 1, 2, 2])

        queue.append(header: [1], payload: [2, 2])
        queue.append(header: [4], payload: [5])
        let (writer, reader) = try Socket.pair()
        defer {
            writer.close()
            reader.close()
        }
        _ = try queue.write(to: OneByteTransport(writer))  // the first header only
        queue.appendUrgent([3])
        queue.dropUnstarted()  // the payload of the started frame stays; the next frame goes
        #expect(queue.count == 3)
        _ = try queue.write(to: PlainTransport(writer))
        var bytes = [UInt8](repeating: 0, count: 16)
        let result = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) }
        guard case .processed(let count) = result else { throw SystemError(call: "read", errno: .wouldBlock) }
        #expect(Array(bytes[0..<count]) == [1, 2, 2, 3])
    }

    /// A connection's frames, once written whole, leave their array as the spare for the next ones;
    /// an array someone else may hold (a broadcast frame) never becomes it.
    @Test func writtenConnectionDataBecomesTheSpare() throws {
        var queue = OutboundQueue()
        queue.append([7, 7])
        #expect(try Self.written(&queue) == [7, 7])
        #expect(queue.spare.capacity == 0)

        queue.append(connectionData: [1, 2, 3])
        queue.appendUrgent([9])
        #expect(try Self.written(&queue) == [9, 1, 2, 3])
        #expect(queue.spare.capacity == 0)  // two chunks: the common case only

        queue.append(connectionData: [4, 5])
        #expect(try Self.written(&queue) == [4, 5])
        #expect(queue.spare.isEmpty && queue.spare.capacity >= 2)

        queue.spare = []
        queue.append(connectionData: [UInt8](repeating: 1, count: OutboundQueue.spareCapacity + 1))
        _ = try Self.written(&queue)
        #expect(queue.spare.capacity == 0)  // too large to keep
    }

    /// Shared arrays are not emptied in place: a chunk appended after the connection's is not theirs.
    @Test func aChunkAfterTheConnectionsIsNotRecycled() throws {
        var queue = OutboundQueue()
        let shared: [UInt8] = [8, 8]
        queue.append(connectionData: [1])
        queue.append(shared)
        #expect(try Self.written(&queue) == [1, 8, 8])
        #expect(queue.spare.capacity == 0)
        #expect(shared == [8, 8])
    }
}

/// Takes one byte per call: a socket whose buffer is full but for one byte.
private final class OneByteTransport: Transport {
    let socket: Socket
    var taken = false
    init(_ socket: Socket) { self.socket = socket }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult<Int> { .wouldBlock }
    func write(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int) throws(TransportError) -> IOResult<Int> {
        guard !self.taken, let first = chunks.first else { return .wouldBlock }
        self.taken = true
        let bytes = [first[offset]]
        do { return try self.socket.writev([bytes][...], skippingFirst: 0) } catch { throw .system(error) }
    }
    func flushPendingOutput() throws(TransportError) {}
    var hasPendingOutput: Bool { false }
    var hasBufferedInput: Bool { false }
    func interest(reading: Bool, writing: Bool) -> Interest { .readable }
    func shutdownWrite() throws(TransportError) {}
    func close() {}
}
