import Reactor

/// Bytes waiting to be written to one socket: whole frames in chunks, written with `writev`.
///
/// Control frames may jump ahead of queued data, but only at a frame boundary: never in front of a
/// chunk that is already partly written. Every chunk holds whole frames, which is what makes that safe,
/// except a large payload queued as it is behind its header (`append(header:payload:)`), which is
/// never separated from it. Nor do control frames pass the HTTP response, which the client must read
/// before any frame, or control frames queued before them, which keep their order.
struct OutboundQueue {
    private var chunks: [[UInt8]] = []
    private var head = 0
    /// Bytes of `chunks[head]` already written.
    private var headOffset = 0
    /// Chunks before this index are never passed: the HTTP response and urgent frames already queued.
    private var fence = 0
    /// Indices of chunks that continue the frame of the chunk before them (payloads queued apart
    /// from their headers), ascending; usually empty, and then it holds no memory.
    private var continuations: [Int] = []
    /// Bytes queued and not yet written.
    private(set) var count = 0
    /// Whether the last chunk is a connection's frames (`append(connectionData:)`), an array no one
    /// else holds once written.
    private var lastChunkIsConnectionData = false
    /// That array once written and emptied, for the connection to encode its next frames into
    /// (`Connection.takePendingOutput(recycling:)`): small messages then cost no allocation.
    var spare: [UInt8] = []
    /// The largest array kept as `spare`.
    static let spareCapacity = 4096

    var isEmpty: Bool { self.count == 0 }

    /// From this size a payload is queued as it is behind its header (`append(header:payload:)`):
    /// copying it would cost more than the extra chunk.
    static let separatePayloadSize = 4096

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        self.chunks.append(bytes)
        self.lastChunkIsConnectionData = false
        self.count += bytes.count
    }

    /// Queues frames a connection encoded and gave up (`Connection.takePendingOutput`): once
    /// written, the array may become the `spare`.
    mutating func append(connectionData bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        self.append(bytes)
        self.lastChunkIsConnectionData = true
    }

    /// Queues one frame as its header and its payload, the payload written from where it is: a
    /// large message is sent without being copied into a frame first.
    mutating func append(header: [UInt8], payload: [UInt8]) {
        self.append(header)
        guard !payload.isEmpty else { return }
        self.continuations.append(self.chunks.count)
        self.append(payload)
    }

    /// The first chunk boundary from `index` that is also a frame boundary.
    private func frameBoundary(from index: Int) -> Int {
        var index = index
        while self.continuations.contains(index) { index += 1 }
        return index
    }

    /// Queues the HTTP response (the 101, or a refusal): nothing queued later goes before it.
    mutating func appendHTTPResponse(_ bytes: [UInt8]) {
        self.append(bytes)
        self.fence = self.chunks.count
    }

    /// Queues control frames ahead of every data chunk not yet started, behind the HTTP response
    /// and any control frames queued before.
    mutating func appendUrgent(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let started = self.headOffset == 0 ? self.head : self.head + 1
        let position = self.frameBoundary(from: min(max(started, self.fence), self.chunks.count))
        self.chunks.insert(bytes, at: position)
        if position == self.chunks.count - 1 { self.lastChunkIsConnectionData = false }
        for index in self.continuations.indices where self.continuations[index] >= position {
            self.continuations[index] += 1
        }
        self.fence = position + 1
        self.count += bytes.count
    }

    /// Drops every chunk not yet started, keeping a partly written one so the stream stays framed,
    /// and the HTTP response and control frames.
    mutating func dropUnstarted() {
        // A payload whose header is (partly) written stays: the stream must stay framed.
        let keep = self.frameBoundary(
            from: max(self.headOffset > 0 ? self.head + 1 : self.head, min(self.fence, self.chunks.count)))
        self.chunks.removeSubrange(keep...)
        self.lastChunkIsConnectionData = false
        self.continuations.removeAll { $0 >= keep }
        self.count = self.chunks[self.head...].reduce(0) { $0 + $1.count } - self.headOffset
    }

    /// Writes as much as the transport takes: up to 64 chunks per `writev` on a plain socket, one
    /// batch per `SSL_write` over TLS.
    /// - Returns: `.wouldBlock` when the transport is full and bytes remain, else the bytes written.
    mutating func write(to transport: any Transport) throws(TransportError) -> IOResult<Int> {
        var total = 0
        while self.count > 0 {
            let result = try transport.write(self.chunks[self.head...], skippingFirst: self.headOffset)
            guard case .processed(let written) = result else { return total == 0 ? .wouldBlock : .processed(total) }
            total += written
            self.consume(written)
            if written == 0 { break }
        }
        return .processed(total)
    }

    private mutating func consume(_ written: Int) {
        var remaining = written
        self.count -= written
        while remaining > 0 {
            let available = self.chunks[self.head].count - self.headOffset
            if remaining < available {
                self.headOffset += remaining
                return
            }
            remaining -= available
            self.head += 1
            self.headOffset = 0
        }
        if self.head == self.chunks.count {
            if self.chunks.count == 1 && self.chunks.capacity <= 16 {
                // The common case, one chunk written whole: cheaper than emptying the array of chunks.
                let written = self.chunks.removeLast()
                if self.lastChunkIsConnectionData && self.spare.capacity == 0
                    && written.capacity <= Self.spareCapacity
                {
                    self.spare = written
                    self.spare.removeAll(keepingCapacity: true)
                }
            } else {
                self.chunks.removeAll(keepingCapacity: self.chunks.capacity <= 16)
            }
            self.lastChunkIsConnectionData = false
            if !self.continuations.isEmpty { self.continuations = [] }
            self.head = 0
            self.fence = 0
        } else if self.head >= 64 {
            self.chunks.removeSubrange(0..<self.head)
            self.fence = max(0, self.fence - self.head)
            if !self.continuations.isEmpty {
                let written = self.head
                self.continuations = self.continuations.filter { $0 >= written }.map { $0 - written }
            }
            self.head = 0
        }
    }
}
