/// Reads RESP2 values from a byte stream that arrives in pieces of any size: replies to commands,
/// and pub/sub pushes (`message`, `subscribe`, `unsubscribe`), which are plain arrays in RESP2.
///
///     var decoder = RESPDecoder()
///     decoder.feed(bytes)
///     while let value = try decoder.next() { … }
///
/// Sans-I/O: bytes in, values out; no descriptor, no clock. A value is parsed only once it is whole,
/// by a fresh pass over its bytes from the start; a pass that stops short costs a walk over the
/// headers only (a bulk string's body is skipped by its length), and `RESPLimits` bounds how much an
/// incomplete value may hold, so the re-reading stays cheap and the memory bounded.
///
/// An error is final: the stream cannot be resynchronised, so every later `next()` throws it again
/// and the owner drops the connection.
struct RESPDecoder {
    let limits: RESPLimits
    private var buffer: [UInt8] = []
    /// Where the next value starts in `buffer`; the bytes before it are consumed.
    private var start = 0
    private var failure: RESPError?

    init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// Bytes received and not yet returned as a value.
    var pendingCount: Int { self.buffer.count - self.start }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard self.failure == nil else { return }
        if self.start > 0 && self.start >= self.buffer.count / 2 {
            self.buffer.removeSubrange(0..<self.start)
            self.start = 0
        }
        self.buffer.append(contentsOf: bytes)
    }

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.feed($0) }
    }

    /// The next whole value, or nil until more bytes arrive.
    /// - Throws: `RESPError` for bytes RESP2 forbids or that exceed the limits, now and from then on.
    mutating func next() throws(RESPError) -> RESPValue? {
        if let failure = self.failure { throw failure }
        do throws(RESPError) {
            var cursor = self.start
            guard let value = try self.buffer.withUnsafeBufferPointer({ (bytes) throws(RESPError) -> RESPValue? in
                try Self.parse(bytes, at: &cursor, depth: 0, limits: self.limits)
            }) else {
                if self.pendingCount > self.limits.maxValueBytes {
                    throw RESPError.valueTooLong(limit: self.limits.maxValueBytes)
                }
                return nil
            }
            // Checked for a whole value too, so the answer does not depend on how the bytes were cut.
            guard cursor - self.start <= self.limits.maxValueBytes else {
                throw RESPError.valueTooLong(limit: self.limits.maxValueBytes)
            }
            self.start = cursor
            if self.start == self.buffer.count {
                self.buffer.removeAll(keepingCapacity: self.buffer.capacity <= 64 * 1024)
                self.start = 0
            }
            return value
        } catch {
            self.failure = error
            self.buffer = []
            self.start = 0
            throw error
        }
    }

    /// One value from `cursor`, which moves past it; nil (cursor unspecified) when it is not whole yet.
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, at cursor: inout Int, depth: Int,
                              limits: RESPLimits) throws(RESPError) -> RESPValue? {
        guard cursor < bytes.count else { return nil }
        let type = bytes[cursor]
        cursor += 1
        guard let line = try Self.line(bytes, at: &cursor, limit: limits.maxLineLength) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simple(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            return .integer(try Self.integer(line))
        case UInt8(ascii: "$"):
            let length = try Self.length(line)
            guard length >= 0 else { return .bulk(nil) }
            guard length <= limits.maxBulkLength else { throw .bulkTooLong(length, limit: limits.maxBulkLength) }
            guard bytes.count - cursor >= length + 2 else { return nil }
            let body = Array(bytes[cursor..<cursor + length])
            cursor += length
            guard bytes[cursor] == 0x0D, bytes[cursor + 1] == 0x0A else { throw .badLength }
            cursor += 2
            return .bulk(body)
        case UInt8(ascii: "*"):
            let count = try Self.length(line)
            guard count >= 0 else { return .array(nil) }
            guard count <= limits.maxArrayCount else { throw .arrayTooLong(count, limit: limits.maxArrayCount) }
            guard depth < limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(count, 16))
            for _ in 0..<count {
                guard let element = try Self.parse(bytes, at: &cursor, depth: depth + 1, limits: limits) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw .unknownType(type)
        }
    }

    /// The bytes up to the next CRLF, with the cursor moved past it; nil when no CRLF has arrived yet.
    private static func line(_ bytes: UnsafeBufferPointer<UInt8>, at cursor: inout Int,
                             limit: Int) throws(RESPError) -> UnsafeBufferPointer<UInt8>.SubSequence? {
        let end = min(bytes.count, cursor + limit + 1)
        var index = cursor
        while index < end {
            if bytes[index] == 0x0D {
                guard index + 1 < bytes.count else { return nil }
                guard bytes[index + 1] == 0x0A else { throw .missingLineFeed }
                let line = bytes[cursor..<index]
                cursor = index + 2
                return line
            }
            index += 1
        }
        if bytes.count - cursor > limit { throw .lineTooLong(limit: limit) }
        return nil
    }

    /// A signed decimal integer as Redis writes it: an optional `-`, then at least one digit.
    private static func integer(_ line: UnsafeBufferPointer<UInt8>.SubSequence) throws(RESPError) -> Int64 {
        var digits = line[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else { throw .badInteger }
        var value: Int64 = 0
        for byte in digits {
            guard (0x30...0x39).contains(byte) else { throw .badInteger }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1, !overflow2 else { throw .badInteger }
            value = sum
        }
        return negative ? -value : value
    }

    /// A length: -1 (null) or a count; anything else below 0 is not RESP.
    private static func length(_ line: UnsafeBufferPointer<UInt8>.SubSequence) throws(RESPError) -> Int {
        guard let value = try? Self.integer(line), value >= -1, value <= Int64(Int32.max) else { throw .badLength }
        return Int(value)
    }
}
