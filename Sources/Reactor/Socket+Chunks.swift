import Glibc

extension Socket {
    /// Writes byte arrays in order with one system call, the first starting `offset` bytes in:
    /// a queue of encoded frames goes out in one `writev` without being copied together.
    ///
    /// At most 64 arrays are passed at once; call again for the rest.
    /// - Returns: the bytes written, or `.wouldBlock`.
    /// The corresponding C functions are `send(2)` for one array, else `sendmsg(2)`, through `writev`.
    public func writev(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int) throws(SystemError) -> IOResult<Int> {
        let count = min(chunks.count, 64)
        guard count > 0 else { return .processed(0) }
        if count == 1, let chunk = chunks.first {
            // One array (a reply to one message, the common case): send(2), which spares the
            // kernel copying in a message header and an iovec.
            let result = chunk.withUnsafeBytes { bytes in
                Result { () throws(SystemError) in try self.send(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
            }
            return try result.get()
        }
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors throws(SystemError) in
            try self.writev(chunks.prefix(count), skippingFirst: offset, filling: vectors, from: 0)
        }
    }

    /// Points `vectors[index]` at the first of `chunks` and recurses for the rest, making the call
    /// from the innermost closure: an array's bytes are only valid inside its `withUnsafeBytes`, so
    /// every pointer is used while the closure that lent it is still running. Nothing is allocated;
    /// the recursion is at most 64 deep.
    private func writev(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int,
                        filling vectors: UnsafeMutableBufferPointer<iovec>, from index: Int) throws(SystemError)
        -> IOResult<Int>
    {
        guard let chunk = chunks.first else { return try self.writev(UnsafeBufferPointer(rebasing: vectors[..<index])) }
        let result = chunk.withUnsafeBytes { bytes in
            vectors[index] = iovec(iov_base: bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0 + offset) },
                                   iov_len: bytes.count - offset)
            return Result { () throws(SystemError) in
                try self.writev(chunks.dropFirst(), skippingFirst: 0, filling: vectors, from: index + 1)
            }
        }
        return try result.get()
    }
}
