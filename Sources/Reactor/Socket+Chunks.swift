import Glibc

extension Socket {
    /// Writes byte arrays in order with one system call, the first starting `offset` bytes in:
    /// a queue of encoded frames goes out in one `writev` without being copied together.
    ///
    /// At most 64 arrays are passed at once; call again for the rest.
    /// - Returns: the bytes written, or `.wouldBlock`.
    /// The corresponding C function is `sendmsg(2)`, through `writev`.
    public func writev(_ chunks: ArraySlice<[UInt8]>, skippingFirst offset: Int) throws(SystemError) -> IOResult<Int> {
        let count = min(chunks.count, 64)
        guard count > 0 else { return .processed(0) }
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors throws(SystemError) in
            for (index, chunk) in chunks.prefix(count).enumerated() {
                let skip = index == 0 ? offset : 0
                // The arrays outlive the call: the caller holds them in its slice.
                chunk.withUnsafeBytes { bytes in
                    vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + skip),
                                           iov_len: bytes.count - skip)
                }
            }
            return try self.writev(UnsafeBufferPointer(vectors))
        }
    }
}
