/// Writes frames into a byte buffer (RFC 6455 §5.2).
///
/// Appends to the caller's buffer so that many frames queued together go out in one write.
public enum FrameEncoder {
    /// The size of a frame header for a payload of `length` bytes.
    @inlinable
    public static func headerSize(payloadLength length: Int, masked: Bool) -> Int {
        let lengthBytes = length < 126 ? 0 : (length <= 0xFFFF ? 2 : 8)
        return 2 + lengthBytes + (masked ? 4 : 0)
    }

    /// Appends one frame.
    ///
    /// RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length", which this does.
    /// - Parameters:
    ///   - mask: the client's masking key, or nil for a server frame.
    @inlinable
    public static func append(
        opcode: Opcode, fin: Bool = true, reservedBits: Frame.ReservedBits = [],
        payload: UnsafeRawBufferPointer, mask: MaskingKey?, to buffer: inout [UInt8]
    ) {
        // Room for the whole frame at once, else appending the header bytes and the payload would
        // grow the buffer up to three times (an empty one: 1 byte, then 2, then the payload). Twice the
        // capacity at least, since Array reserves exactly what it is asked for, and reserving just
        // enough per frame would make queuing many frames quadratic.
        let needed = buffer.count + headerSize(payloadLength: payload.count, masked: mask != nil) + payload.count
        if buffer.capacity < needed { buffer.reserveCapacity(Swift.max(needed, buffer.capacity * 2)) }
        appendHeader(opcode: opcode, fin: fin, reservedBits: reservedBits, length: payload.count,
                     masked: mask != nil, to: &buffer)
        guard let mask else {
            buffer.append(contentsOf: payload)
            return
        }
        buffer.append(mask.bytes.0)
        buffer.append(mask.bytes.1)
        buffer.append(mask.bytes.2)
        buffer.append(mask.bytes.3)
        let start = buffer.count
        buffer.append(contentsOf: payload)
        buffer.withUnsafeMutableBytes { bytes in
            _ = applyMask(mask, to: UnsafeMutableRawBufferPointer(rebasing: bytes[start...]))
        }
    }

    /// Appends a frame header up to the masking key: the first two bytes and the extended length.
    @inlinable
    public static func appendHeader(
        opcode: Opcode, fin: Bool = true, reservedBits: Frame.ReservedBits = [], length: Int, masked: Bool,
        to buffer: inout [UInt8]
    ) {
        buffer.append((fin ? 0x80 : 0) | reservedBits.rawValue | opcode.rawValue)
        let maskBit: UInt8 = masked ? 0x80 : 0
        if length < 126 {
            buffer.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            buffer.append(maskBit | 126)
            buffer.append(UInt8(truncatingIfNeeded: length >> 8))
            buffer.append(UInt8(truncatingIfNeeded: length))
        } else {
            buffer.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                buffer.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift)))
            }
        }
    }

    /// Appends one frame whose payload is any byte collection.
    @inlinable
    public static func append(
        opcode: Opcode, fin: Bool = true, reservedBits: Frame.ReservedBits = [],
        payload: some Collection<UInt8>, mask: MaskingKey?, to buffer: inout [UInt8]
    ) {
        let done: Void? = payload.withContiguousStorageIfAvailable { bytes in
            append(opcode: opcode, fin: fin, reservedBits: reservedBits, payload: UnsafeRawBufferPointer(bytes),
                   mask: mask, to: &buffer)
        }
        if done == nil {
            Array(payload).withUnsafeBytes { bytes in
                append(opcode: opcode, fin: fin, reservedBits: reservedBits, payload: bytes, mask: mask, to: &buffer)
            }
        }
    }
}

extension Frame {
    /// The frame's wire bytes, masked with `mask` when one is given (client side).
    public func encoded(mask: MaskingKey? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        FrameEncoder.append(opcode: self.opcode, fin: self.fin, reservedBits: self.reservedBits,
                            payload: self.payload, mask: mask, to: &bytes)
        return bytes
    }
}
