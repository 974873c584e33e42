import CZlib

/// The four bytes a sync flush ends with, which RFC 7692 §7.2.1 removes from every compressed
/// message and §7.2.2 appends again before inflating.
let syncFlushTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

/// A raw DEFLATE compressor: one zlib `z_stream`, owned, ended in `deinit`.
///
/// Memory (zlib's formula): `(1 << (windowBits + 2)) + (1 << (memoryLevel + 9))` plus about 6 KiB,
/// so 256 KiB at 15 bits and memory level 8, 12 KiB at 9 bits and level 1. That is why connections
/// without context takeover share one per loop (`PerMessageDeflate.SharedStreams`).
public final class Deflater {
    public let windowBits: Int
    public let level: Int
    public let memoryLevel: Int
    private let stream: UnsafeMutablePointer<z_stream>
    /// Output space reused from message to message.
    private var scratch: [UInt8] = []

    /// - Precondition: `windowBits` in 9...15 (zlib refuses a raw stream with an 8-bit window),
    ///   `level` in 0...9, `memoryLevel` in 1...9.
    public init(windowBits: Int, level: Int, memoryLevel: Int) {
        precondition((9...15).contains(windowBits), "zlib compresses raw DEFLATE with 9 to 15 window bits")
        self.windowBits = windowBits
        self.level = level
        self.memoryLevel = memoryLevel
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        let result = wsgate_deflate_init_raw(self.stream, Int32(level), Int32(windowBits), Int32(memoryLevel))
        precondition(result == Z_OK, "deflateInit2 failed (\(result)): out of memory or bad settings")
    }

    deinit {
        deflateEnd(self.stream)
        self.stream.deinitialize(count: 1)
        self.stream.deallocate()
    }

    /// Forgets the window, so the next message compresses as if it were the first.
    /// The corresponding C function is `deflateReset(3)`.
    public func reset() {
        deflateReset(self.stream)
    }

    /// Compresses one message held in an array; see `compress(_:)`.
    public func compress(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { self.compress($0) }
    }

    /// Compresses one message and ends it with a sync flush, minus the flush's last four bytes
    /// (RFC 7692 §7.2.1).
    public func compress(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        // RFC 7692 §7.2.3.6: an empty message is one empty stored block, 0x00 once the tail is gone.
        // zlib would write nothing: a sync flush with no input right after another is a no-op
        // (Z_BUF_ERROR), and the peer would then read the tail alone as a block header.
        guard message.count > 0 else { return [0x00] }
        // A sync flush of n bytes takes at most deflateBound(n) plus a few bytes for the empty
        // stored block; the loop below copes anyway should zlib ever need more.
        let bound = Int(deflateBound(self.stream, UInt(message.count))) + 16
        if self.scratch.count < bound { self.scratch = [UInt8](repeating: 0, count: bound) }
        var produced = 0
        self.stream.pointee.next_in = UnsafeMutablePointer(
            mutating: message.baseAddress?.assumingMemoryBound(to: Bytef.self))
        self.stream.pointee.avail_in = UInt32(message.count)
        while true {
            if produced == self.scratch.count { self.scratch.append(contentsOf: repeatElement(0, count: 1024)) }
            let space = self.scratch.count - produced
            self.scratch.withUnsafeMutableBufferPointer { buffer in
                self.stream.pointee.next_out = buffer.baseAddress! + produced
                self.stream.pointee.avail_out = UInt32(space)
                let result = deflate(self.stream, Z_SYNC_FLUSH)
                precondition(result == Z_OK || result == Z_BUF_ERROR, "deflate failed (\(result))")
            }
            produced += space - Int(self.stream.pointee.avail_out)
            // Done once zlib has consumed everything and still had room left: the flush is complete.
            if self.stream.pointee.avail_in == 0 && self.stream.pointee.avail_out > 0 { break }
        }
        self.stream.pointee.next_in = nil
        self.stream.pointee.next_out = nil
        var end = produced
        if end >= 4 && self.scratch[end - 4..<end].elementsEqual(syncFlushTail) { end -= 4 }
        let result = Array(self.scratch[0..<end])
        // One large message must not leave a large buffer behind on an idle connection.
        if self.scratch.count > 64 * 1024 { self.scratch = [] }
        return result
    }
}

/// A raw DEFLATE decompressor: one zlib `z_stream`, owned, ended in `deinit`.
///
/// About 7 KiB of state, plus the window (`1 << windowBits`), which zlib allocates on the first
/// message that produces output: 39 KiB at 15 bits.
public final class Inflater {
    public let windowBits: Int
    private let stream: UnsafeMutablePointer<z_stream>
    /// The output grows by at most this much at a time, never past the caller's limit plus one byte.
    static let chunkSize = 16 * 1024

    /// Why a message could not be inflated.
    public enum Failure: Error, Equatable {
        case tooBig
        case invalid(String)
    }

    /// - Precondition: `windowBits` in 8...15.
    public init(windowBits: Int) {
        precondition((8...15).contains(windowBits), "RFC 7692 windows are 8 to 15 bits")
        self.windowBits = windowBits
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        let result = wsgate_inflate_init_raw(self.stream, Int32(windowBits))
        precondition(result == Z_OK, "inflateInit2 failed (\(result)): out of memory")
    }

    deinit {
        inflateEnd(self.stream)
        self.stream.deinitialize(count: 1)
        self.stream.deallocate()
    }

    /// Forgets the window. The corresponding C function is `inflateReset(3)`.
    public func reset() {
        inflateReset(self.stream)
    }

    /// Inflates one message held in an array; see `inflate(_:limit:)`.
    public func inflate(_ message: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        let outcome = message.withUnsafeBytes { bytes in
            Result { () throws(Failure) in try self.inflate(bytes, limit: limit) }
        }
        return try outcome.get()
    }

    /// Inflates one message (its sync-flush tail removed, as sent) into at most `limit` bytes.
    ///
    /// The output grows a chunk at a time and the limit is checked after each chunk, so a small
    /// message that inflates to gigabytes costs at most `limit` plus one chunk of work and memory.
    /// - Throws: `.tooBig` past `limit`, `.invalid` for data that is not DEFLATE.
    public func inflate(_ message: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        var produced = 0
        defer {
            self.stream.pointee.next_in = nil
            self.stream.pointee.next_out = nil
        }
        // RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of
        // the message", fed as a second input so the message is not copied.
        for part in 0..<2 {
            let outcome = syncFlushTail.withUnsafeBytes { tail in
                Result { () throws(Failure) in
                    try self.feed(part == 0 ? message : tail, into: &output, produced: &produced, limit: limit)
                }
            }
            if try outcome.get() {
                self.restartKeepingWindow()
                break
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Inflates `input` onto `output[produced...]`, growing it; returns true at the end of the stream.
    private func feed(_ input: UnsafeRawBufferPointer, into output: inout [UInt8], produced: inout Int, limit: Int)
        throws(Failure) -> Bool
    {
        self.stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        self.stream.pointee.avail_in = UInt32(input.count)
        while true {
            if produced == output.count {
                guard produced <= limit else { throw .tooBig }
                // Start near the likely size (most messages are small, and zeroing 16 KiB for each
                // would cost more than inflating them), then double, a chunk at most each time.
                let wanted = output.isEmpty ? max(256, 4 * input.count) : output.count
                output.append(contentsOf: repeatElement(0, count: min(wanted, Self.chunkSize, limit + 1 - produced)))
            }
            let space = output.count - produced
            let start = produced
            let result = output.withUnsafeMutableBufferPointer { buffer in
                self.stream.pointee.next_out = buffer.baseAddress! + start
                self.stream.pointee.avail_out = UInt32(space)
                return CZlib.inflate(self.stream, Z_SYNC_FLUSH)
            }
            produced += space - Int(self.stream.pointee.avail_out)
            guard produced <= limit else { throw .tooBig }
            switch result {
            case Z_STREAM_END:
                // A block with BFINAL set ends the DEFLATE stream (RFC 7692 §7.2.3.4); what follows
                // it, the tail included, is ignored.
                return true
            case Z_OK, Z_BUF_ERROR:
                if self.stream.pointee.avail_out > 0 {
                    guard self.stream.pointee.avail_in == 0 else { throw .invalid("inflate made no progress") }
                    return false
                }
            default:
                throw .invalid(self.stream.pointee.msg.map { String(cString: $0) } ?? "error \(result)")
            }
        }
    }

    /// After a final block zlib takes no more input: start a new stream that still knows the
    /// window, for a peer that keeps its context across messages.
    private func restartKeepingWindow() {
        var window = [UInt8](repeating: 0, count: 1 << self.windowBits)
        var length: UInt32 = 0
        window.withUnsafeMutableBufferPointer { buffer in
            _ = inflateGetDictionary(self.stream, buffer.baseAddress, &length)
        }
        inflateReset(self.stream)
        if length > 0 {
            window.withUnsafeBufferPointer { buffer in
                _ = inflateSetDictionary(self.stream, buffer.baseAddress, length)
            }
        }
    }
}
